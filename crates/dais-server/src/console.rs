//! The web operator console: plain ES modules and CSS built into the binary (no build step, see
//! `docs/decisions.md`), served at `/` and `/console/...`. The console talks only to the public
//! REST API and the meeting event stream; these routes serve files and nothing else.
//!
//! Every answer carries a strict Content-Security-Policy (scripts, styles and connections from
//! this origin only, no inline code, no framing), `X-Content-Type-Options: nosniff` and
//! `Referrer-Policy: no-referrer`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::ApiError;
use crate::app::AppState;

/// The console's Content-Security-Policy. `connect-src 'self'` covers the same-origin
/// WebSocket (`ws:`/`wss:` on this host) in CSP level 3.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The language the console opens in until the operator picks one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    /// Simplified Chinese (the default: the province's operators read Chinese).
    #[default]
    Zh,
    /// English.
    En,
}

impl Language {
    /// Parses `zh` or `en`.
    pub fn parse(s: &str) -> Option<Language> {
        match s {
            "zh" => Some(Language::Zh),
            "en" => Some(Language::En),
            _ => None,
        }
    }

    /// The BCP 47 code the page uses.
    pub fn code(self) -> &'static str {
        match self {
            Language::Zh => "zh",
            Language::En => "en",
        }
    }
}

/// One built-in file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $ct:literal) => {
        Asset {
            name: $name,
            content_type: $ct,
            body: include_bytes!(concat!("../console/", $name)),
        }
    };
}

/// Every file of the console except `index.html` (which is rendered once with the language).
const ASSETS: &[Asset] = &[
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "text/javascript; charset=utf-8"),
    asset!("i18n.js", "text/javascript; charset=utf-8"),
    asset!("ops.js", "text/javascript; charset=utf-8"),
    asset!("roles.js", "text/javascript; charset=utf-8"),
    asset!("record.js", "text/javascript; charset=utf-8"),
    asset!("wall.js", "text/javascript; charset=utf-8"),
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
];

const INDEX: &str = include_str!("../console/index.html");

/// The content type of a built-in asset, by name (for tests and tools).
pub fn content_type_of(name: &str) -> Option<&'static str> {
    if name == "index.html" {
        return Some("text/html; charset=utf-8");
    }
    ASSETS
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.content_type)
}

/// The names of every built-in asset.
pub fn asset_names() -> impl Iterator<Item = &'static str> {
    std::iter::once("index.html").chain(ASSETS.iter().map(|a| a.name))
}

fn with_headers(content_type: &'static str, body: axum::body::Body) -> Response {
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The assets change with the binary; revalidation is cheap on loopback and LAN.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// The console's routes: `/` and `/console/` (the page), `/console/{file}` (its modules,
/// stylesheet and icon). `default_language` is written into the page.
pub fn router(default_language: Language) -> Router<AppState> {
    // Rendered once; each answer shares the bytes.
    let index: Bytes = INDEX
        .replace(
            "data-default-lang=\"zh\"",
            &format!("data-default-lang=\"{}\"", default_language.code()),
        )
        .replace(
            "<html lang=\"zh\"",
            &format!("<html lang=\"{}\"", default_language.code()),
        )
        .into();
    let page = {
        let index = index.clone();
        move || {
            let index = index.clone();
            async move { with_headers("text/html; charset=utf-8", axum::body::Body::from(index)) }
        }
    };
    let file = move |Path(name): Path<String>| {
        let index = index.clone();
        async move {
            if name == "index.html" {
                return with_headers("text/html; charset=utf-8", axum::body::Body::from(index));
            }
            match ASSETS.iter().find(|a| a.name == name) {
                Some(a) => with_headers(a.content_type, axum::body::Body::from(a.body)),
                None => {
                    let mut r =
                        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such console file")
                            .into_response();
                    r.headers_mut().insert(
                        header::CONTENT_SECURITY_POLICY,
                        HeaderValue::from_static(CSP),
                    );
                    r
                }
            }
        }
    };
    Router::new()
        .route("/", get(page.clone()))
        .route("/console", get(page.clone()))
        .route("/console/", get(page))
        .route("/console/{name}", get(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_content_type_by_its_extension() {
        for name in asset_names() {
            let ct = content_type_of(name).unwrap();
            let want = match name.rsplit('.').next().unwrap() {
                "html" => "text/html",
                "js" => "text/javascript",
                "css" => "text/css",
                "svg" => "image/svg+xml",
                other => panic!("unexpected asset type {other}"),
            };
            assert!(ct.starts_with(want), "{name}: {ct}");
        }
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        // The CSP forbids inline code; a stray inline block would silently not run.
        assert!(!INDEX.contains("<script>"), "inline script in index.html");
        assert!(!INDEX.contains("<style"), "inline style in index.html");
        assert!(
            !INDEX.contains(" style=\""),
            "inline style attribute in index.html"
        );
        assert!(!INDEX.contains(" onclick="), "inline handler in index.html");
        assert!(INDEX.contains("data-default-lang=\"zh\""));
    }

    #[test]
    fn languages_parse() {
        assert_eq!(Language::parse("zh"), Some(Language::Zh));
        assert_eq!(Language::parse("en"), Some(Language::En));
        assert_eq!(Language::parse("EN"), None);
        assert_eq!(Language::default().code(), "zh");
    }
}
