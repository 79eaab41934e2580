//! The web console's serving side, against the real server: every built-in asset with its
//! content type and the strict CSP, the configured default language written into the page,
//! unknown and crafted paths refused, and the event stream's browser authentication (the
//! `dais.bearer.<token>` WebSocket subprotocol).

mod api_common;

use std::net::TcpStream;

use api_common::{ADMIN_PW, Daisd, GUARD, http, login};
use dais_server::console::{CSP, Language, asset_names, content_type_of};
use dais_server::{App, Config, Secret};

/// An in-process server with the given console language; stopped when the guard drops.
struct Running {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(lang: Language) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::defaults();
    config.data_dir = dir.path().to_owned();
    config.http = "127.0.0.1:0".parse().unwrap();
    config.admin_password = Some(Secret::new(ADMIN_PW));
    config.console_language = lang;
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = App::start(config).await.unwrap();
            addr_tx.send(app.http_addr()).unwrap();
            app.serve(async {
                let _ = stop_rx.await;
            })
            .await
            .unwrap();
        });
    });
    Running {
        addr: addr_rx.recv().expect("server started"),
        stop: Some(stop_tx),
        thread: Some(thread),
        _dir: dir,
    }
}

fn assert_hardened(path: &str, r: &api_common::Resp) {
    assert_eq!(r.header("content-security-policy"), Some(CSP), "{path}");
    assert_eq!(
        r.header("x-content-type-options"),
        Some("nosniff"),
        "{path}"
    );
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{path}");
    assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
}

#[test]
fn every_asset_is_served_with_its_content_type_and_the_csp() {
    let s = serve(Language::Zh);
    let mut seen = 0;
    for name in asset_names() {
        let path = format!("/console/{name}");
        let r = http(s.addr, "GET", &path, None, None);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert_eq!(r.header("content-type"), content_type_of(name), "{path}");
        assert_hardened(&path, &r);
        assert!(!r.body.is_empty(), "{path} is empty");
        seen += 1;
    }
    assert!(seen >= 9, "only {seen} assets");
    // The page itself at / and /console/, needing no login (it is the login screen).
    for path in ["/", "/console", "/console/"] {
        let r = http(s.addr, "GET", path, None, None);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(
            r.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{path}"
        );
        assert_hardened(path, &r);
        assert!(
            r.body
                .contains("<script type=\"module\" src=\"/console/app.js\">")
        );
    }
    // The CSP allows only this origin, no inline code, no framing.
    for must in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(CSP.contains(must), "{must}");
    }
    assert!(!CSP.contains("unsafe"), "{CSP}");
}

#[test]
fn the_configured_language_is_written_into_the_page() {
    let zh = serve(Language::Zh);
    let en = serve(Language::En);
    let page_zh = http(zh.addr, "GET", "/", None, None).body;
    let page_en = http(en.addr, "GET", "/", None, None).body;
    assert!(page_zh.contains("<html lang=\"zh\" data-default-lang=\"zh\">"));
    assert!(page_en.contains("<html lang=\"en\" data-default-lang=\"en\">"));
    // Only the language differs.
    assert_eq!(
        page_zh.replace("\"zh\"", "\"en\""),
        page_en,
        "the pages differ beyond the language"
    );
}

#[test]
fn unknown_and_crafted_paths_are_refused() {
    let s = serve(Language::En);
    for path in [
        "/console/nope.js",
        "/console/..%2fCargo.toml",
        "/console/%2e%2e/src/console.rs",
        "/console/app.js.map",
        "/console/sub/app.js",
        "/index.html",
    ] {
        let r = http(s.addr, "GET", path, None, None);
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "{path}"
        );
    }
    // Only reading is allowed.
    let r = http(s.addr, "POST", "/console/app.js", None, Some("{}"));
    assert_eq!(r.status, 405);
}

/// Opens the event stream the way a browser does: token in a subprotocol, no header.
fn ws_with_protocols(
    addr: std::net::SocketAddr,
    protocols: &str,
) -> Result<(api_common::Ws, Option<String>), u16> {
    use tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{addr}/api/v1/meetings/8000/events")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", protocols.parse().unwrap());
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(GUARD)).unwrap();
    match tungstenite::client(req, stream) {
        Ok((ws, resp)) => {
            let chosen = resp
                .headers()
                .get("sec-websocket-protocol")
                .map(|v| v.to_str().unwrap().to_owned());
            Ok((ws, chosen))
        }
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => {
            Err(resp.status().as_u16())
        }
        Err(e) => panic!("websocket handshake: {e}"),
    }
}

#[test]
fn a_browser_authenticates_the_event_stream_with_a_subprotocol() {
    let d = Daisd::start(true);
    let token = login(d.addr, "admin", ADMIN_PW);

    let (mut ws, chosen) = ws_with_protocols(d.addr, &format!("dais.v1, dais.bearer.{token}"))
        .expect("upgrade with the token subprotocol");
    // The server selects the protocol name, never echoes the token back.
    assert_eq!(chosen.as_deref(), Some("dais.v1"));
    // The demo's venues send audio: level reports and media figures arrive on their own.
    let msg = ws.read().expect("an event");
    let ev: serde_json::Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
    assert!(ev["type"].is_string(), "{ev}");
    let _ = ws.close(None);

    // A wrong token, and no token at all, are refused before the upgrade.
    assert_eq!(
        ws_with_protocols(d.addr, "dais.v1, dais.bearer.0000").err(),
        Some(401)
    );
    assert_eq!(
        ws_with_protocols(d.addr, "dais.v1, dais.bearer.").err(),
        Some(401)
    );
    assert_eq!(ws_with_protocols(d.addr, "dais.v1").err(), Some(401));

    // The subprotocol is honoured on WebSocket upgrades only: a plain request carrying it is
    // not logged in.
    let plain = {
        use std::io::{Read, Write};
        let mut s = TcpStream::connect(d.addr).unwrap();
        s.set_read_timeout(Some(GUARD)).unwrap();
        write!(
            s,
            "GET /api/v1/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Sec-WebSocket-Protocol: dais.bearer.{token}\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    assert!(plain.starts_with("HTTP/1.1 401"), "{plain}");
    // The header still works as before.
    assert_eq!(d.get("/api/v1/me", Some(&token)).status, 200);
}
