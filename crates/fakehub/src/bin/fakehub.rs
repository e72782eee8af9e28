//! `fakehub ROOT [PORT]`: serve ROOT's repos on loopback in the Hub's shape, for end-to-end tests
//! and for trying downloads by hand (`HF_ENDPOINT=http://127.0.0.1:PORT fathom pull org/name`).
//! Optional environment: FAKEHUB_RATE (bytes per second per file body).

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let Some(root) = args.next() else {
        eprintln!("usage: fakehub ROOT [PORT]");
        std::process::exit(2);
    };
    let port = args.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let hub = match fathom_fakehub::FakeHub::start(root, port).await {
        Ok(hub) => hub,
        Err(e) => {
            eprintln!("fakehub: cannot listen: {e}");
            std::process::exit(1);
        }
    };
    if let Some(rate) = std::env::var("FAKEHUB_RATE")
        .ok()
        .and_then(|r| r.parse().ok())
    {
        hub.throttle(rate);
    }
    println!("{}", hub.url());
    std::future::pending::<()>().await;
}
