//! The local API as the desktop app runs it: turned on and off from Settings, started again when
//! its settings change, its token kept in the settings so that the clients set up with it go on
//! working; with the setups people paste into their clients.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fathom_core::App;
use serde::Serialize;

use crate::{generate_token, ServeOptions, Server};

/// What the API is doing, for Settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ApiStatus {
    pub enabled: bool,
    pub running: bool,
    pub port: u16,
    pub local_network: bool,
    /// Web origins browsers may call it from (none: web pages cannot read it).
    pub cors_origins: Vec<String>,
    /// Requests a minute one client address may send.
    pub rate_limit: u32,
    /// `http://127.0.0.1:8484/v1` while running: OpenAI clients' base URL.
    pub base_url: Option<String>,
    /// The MCP endpoint (streamable HTTP).
    pub mcp_url: Option<String>,
    pub token: Option<String>,
    /// The model chat requests run on, as clients name it.
    pub model: Option<String>,
    /// Why it is not running although turned on.
    pub error: Option<String>,
    /// Ready-to-paste setups for the clients people use.
    pub clients: Vec<ClientSetup>,
}

#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ClientSetup {
    pub name: String,
    /// What the text is (`python`, `json`, `shell`), for display.
    pub language: String,
    pub text: String,
}

/// The setups for a running server at `base` (`http://host:port`).
pub fn client_setups(base: &str, token: &str, model: &str, fathom_cli: &str) -> Vec<ClientSetup> {
    let setup = |name: &str, language: &str, text: String| ClientSetup {
        name: name.into(),
        language: language.into(),
        text,
    };
    vec![
        setup(
            "Python (openai)",
            "python",
            format!(
                "from openai import OpenAI\n\nclient = OpenAI(base_url=\"{base}/v1\", api_key=\"{token}\")\nreply = client.chat.completions.create(\n    model=\"{model}\",\n    messages=[{{\"role\": \"user\", \"content\": \"What is in my notes about BM25?\"}}],\n)\nprint(reply.choices[0].message.content)\n"
            ),
        ),
        setup(
            "Claude Desktop, Cursor (MCP)",
            "json",
            serde_json::to_string_pretty(&serde_json::json!({
                "mcpServers": {"fathom": {"command": fathom_cli, "args": ["mcp"]}}
            }))
            .unwrap_or_default(),
        ),
        setup(
            "MCP over HTTP",
            "json",
            serde_json::to_string_pretty(&serde_json::json!({
                "mcpServers": {"fathom": {
                    "url": format!("{base}/mcp"),
                    "headers": {"Authorization": format!("Bearer {token}")},
                }}
            }))
            .unwrap_or_default(),
        ),
        setup(
            "curl",
            "shell",
            format!(
                "curl {base}/v1/chat/completions \\\n  -H \"Authorization: Bearer {token}\" -H \"Content-Type: application/json\" \\\n  -d '{{\"model\": \"{model}\", \"messages\": [{{\"role\": \"user\", \"content\": \"Hello\"}}]}}'\n"
            ),
        ),
    ]
}

/// The API the app runs: at most one server, following the settings.
#[derive(Default)]
pub struct LocalApi {
    server: tokio::sync::Mutex<Option<Server>>,
    status: Mutex<ApiStatus>,
}

impl LocalApi {
    pub fn new() -> LocalApi {
        LocalApi::default()
    }

    pub fn status(&self) -> ApiStatus {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Brings the server in line with the settings: stops it, then starts it again if it is
    /// turned on (on the app's model, with the saved token, made and saved the first time).
    /// `model` overrides the app's model; `fathom_cli` is the `fathom` command beside the app,
    /// for the MCP setup.
    pub async fn apply(
        &self,
        app: &Arc<App>,
        model: Option<PathBuf>,
        fathom_cli: Option<PathBuf>,
    ) -> ApiStatus {
        let mut running = self.server.lock().await;
        if let Some(server) = running.take() {
            // Requests in flight get a moment; a stream still going is cut.
            let _ = tokio::time::timeout(Duration::from_secs(3), server.stop()).await;
        }
        let settings = app.settings();
        let mut status = ApiStatus {
            enabled: settings.api_enabled,
            port: settings.api_port,
            local_network: settings.api_local_network,
            cors_origins: settings.api_cors_origins.clone(),
            rate_limit: crate::DEFAULT_RATE_LIMIT,
            ..ApiStatus::default()
        };
        if settings.api_enabled {
            match self.start(app, &settings, model, fathom_cli).await {
                Ok((server, started)) => {
                    *running = Some(server);
                    status = ApiStatus {
                        running: true,
                        ..started
                    };
                }
                Err(e) => status.error = Some(e),
            }
        }
        *self.status.lock().unwrap_or_else(|e| e.into_inner()) = status.clone();
        status
    }

    async fn start(
        &self,
        app: &Arc<App>,
        settings: &fathom_store::Settings,
        model: Option<PathBuf>,
        fathom_cli: Option<PathBuf>,
    ) -> Result<(Server, ApiStatus), String> {
        let token = match &settings.api_token {
            Some(t) if !t.is_empty() => t.clone(),
            _ => {
                let t = generate_token();
                let saved = t.clone();
                app.update_settings(move |s| s.api_token = Some(saved))
                    .map_err(|e| e.to_string())?;
                t
            }
        };
        let host = if settings.api_local_network {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        };
        let options = ServeOptions {
            host,
            port: settings.api_port,
            token: Some(token.clone()),
            allow_unfit: settings.ignore_fit,
            cors: settings.api_cors_origins.clone(),
            model,
            ..ServeOptions::app_engine()
        };
        let server = Server::start(app.clone(), options)
            .await
            .map_err(|e| e.to_string())?;
        let base = format!("http://127.0.0.1:{}", server.address().port());
        let model = server.model().id.clone();
        let cli = fathom_cli
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "fathom".into());
        let status = ApiStatus {
            enabled: true,
            running: true,
            port: server.address().port(),
            local_network: settings.api_local_network,
            cors_origins: settings.api_cors_origins.clone(),
            rate_limit: crate::DEFAULT_RATE_LIMIT,
            base_url: Some(format!("{base}/v1")),
            mcp_url: Some(format!("{base}/mcp")),
            clients: client_setups(&base, &token, &model, &cli),
            token: Some(token),
            model: Some(model),
            error: None,
        };
        Ok((server, status))
    }

    /// Stops the server (the app is quitting).
    pub async fn stop(&self) {
        if let Some(server) = self.server.lock().await.take() {
            let _ = tokio::time::timeout(Duration::from_secs(3), server.stop()).await;
        }
    }
}
