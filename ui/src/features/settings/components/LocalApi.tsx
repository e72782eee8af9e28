// Settings → Local API: Fathom's model and library for other apps on this computer (OpenAI-compatible
// endpoints and an MCP server). Off until turned on; while on, its address, token and setups to
// paste into clients.
import { useEffect, useState } from "react";
import { describeError, type ApiStatus } from "../../../lib/ipc";
import { api } from "../api";

export function LocalApi() {
  const [status, setStatus] = useState<ApiStatus | null>(null);
  const [port, setPort] = useState("8484");
  const [origins, setOrigins] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [shown, setShown] = useState(0);
  const [copied, setCopied] = useState<string | null>(null);

  useEffect(() => {
    api.localApiStatus().then(
      (s) => {
        setStatus(s);
        if (s.port !== 0) setPort(String(s.port));
      },
      (e: unknown) => {
        setError(describeError(e));
      },
    );
  }, []);

  const apply = async (change: () => Promise<ApiStatus>) => {
    setBusy(true);
    setError(null);
    try {
      const s = await change();
      setStatus(s);
      if (s.port !== 0) setPort(String(s.port));
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };

  const portNumber = Number(port);
  const portValid = Number.isInteger(portNumber) && portNumber >= 1024 && portNumber <= 65535;
  const set = (enabled: boolean, localNetwork: boolean) => apply(() => api.setLocalApi(enabled, localNetwork, portValid ? portNumber : 8484));
  const copy = (what: string, text: string) => {
    void navigator.clipboard.writeText(text).then(() => {
      setCopied(what);
    });
  };

  const enabled = status?.enabled ?? false;
  const client = status?.clients[shown] ?? null;
  return (
    <div className="local-api" data-testid="local-api">
      <h2>Local API</h2>
      <label className="row">
        <input type="checkbox" data-testid="api-enabled" checked={enabled} disabled={status === null || busy} onChange={(e) => void set(e.target.checked, status?.localNetwork ?? false)} />
        Let other apps on this computer use Fathom&apos;s model and library (OpenAI-compatible API and MCP server)
      </label>
      <label className="row">
        Port
        <input type="number" data-testid="api-port" min={1024} max={65535} value={port} disabled={busy} onChange={(e) => { setPort(e.target.value); }} onBlur={() => { if (enabled && portValid && portNumber !== status?.port) void set(true, status?.localNetwork ?? false); }} />
        {!portValid && <span className="warning">A port from 1024 to 65535.</span>}
      </label>
      <label className="row">
        <input type="checkbox" data-testid="api-local-network" checked={status?.localNetwork ?? false} disabled={status === null || busy} onChange={(e) => void set(enabled, e.target.checked)} />
        Also on my local network (other machines there can reach it with the token)
      </label>
      <label className="row">
        Web pages allowed to use it
        <input
          data-testid="api-origins"
          placeholder="none (e.g. http://localhost:3000)"
          value={origins ?? status?.corsOrigins.join(", ") ?? ""}
          disabled={status === null || busy}
          onChange={(e) => {
            setOrigins(e.target.value);
          }}
          onBlur={() => {
            if (origins === null) return;
            const list = origins.split(/[\s,]+/).filter((o) => o !== "");
            void apply(() => api.setApiOrigins(list)).then(() => {
              setOrigins(null);
            });
          }}
        />
      </label>
      {error !== null && <p className="warning" role="alert">{error}</p>}
      {status?.error != null && (
        <p className="warning" role="alert" data-testid="api-error">
          The API is not running: {status.error}
        </p>
      )}
      {status?.running === true && status.baseUrl !== null && status.token !== null && (
        <div data-testid="api-running">
          <dl className="about">
            <dt>Address</dt>
            <dd data-testid="api-address">{status.baseUrl}</dd>
            <dt>MCP</dt>
            <dd>{status.mcpUrl}</dd>
            <dt>Model</dt>
            <dd>{status.model}</dd>
            <dt>Token</dt>
            <dd>
              <code data-testid="api-token">{status.token}</code>{" "}
              <button type="button" className="link" onClick={() => { copy("token", status.token ?? ""); }}>
                {copied === "token" ? "Copied" : "Copy"}
              </button>{" "}
              <button type="button" className="link" data-testid="api-new-token" disabled={busy} onClick={() => void apply(() => api.newApiToken())}>
                New token
              </button>
            </dd>
          </dl>
          <div className="row" role="tablist">
            {status.clients.map((c, i) => (
              <button key={c.name} type="button" role="tab" aria-selected={i === shown} className={i === shown ? "primary" : ""} onClick={() => { setShown(i); setCopied(null); }}>
                {c.name}
              </button>
            ))}
          </div>
          {client !== null && (
            <div data-testid="api-client-setup">
              <pre className={`language-${client.language}`}>{client.text}</pre>
              <button type="button" onClick={() => { copy(client.name, client.text); }}>
                {copied === client.name ? "Copied" : "Copy"}
              </button>
            </div>
          )}
          <p className="muted">Requests need the token; {status.corsOrigins.length === 0 ? "web pages cannot read the answers" : `only the web pages listed above can read the answers`}; each address is held to {status.rateLimit} requests a minute; one request runs at a time, and a full queue is refused. A new token refuses the clients set up with the old one.</p>
        </div>
      )}
    </div>
  );
}
