//! The GraphiQL playground, served from files embedded in the binary: no CDN, so it works
//! offline and on air-gapped networks.
//!
//! The vendored browser files (GraphiQL's UMD build and CSS, React and ReactDOM production UMD
//! builds, and their licenses) live in `assets/graphiql/` (see its README for where they come
//! from); `assets/playground.js` starts GraphiQL with the settings the page carries. Files are
//! served from `GET /graphql/assets/{file}` by exact name from a fixed list, so no request
//! path ever reaches the file system.

use axum::extract::Path;
use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use crate::datafile::DEMO_TOKEN;
use crate::error::ApiError;

/// A file served under `/graphql/assets/`.
struct Asset {
    /// The file name in the URL.
    name: &'static str,
    content_type: &'static str,
    /// Whether the content is fixed for the name (a versioned vendored file): cached for a year.
    immutable: bool,
    body: &'static [u8],
}

/// `Cache-Control` of versioned files: their names change whenever their content does.
const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of our own start-up script, which changes with the server.
const CACHE_REVALIDATE: &str = "no-cache";

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// Declares a vendored file of `assets/graphiql/`.
macro_rules! vendored {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            immutable: true,
            body: include_bytes!(concat!("../../assets/graphiql/", $name)),
        }
    };
}

const GRAPHIQL_JS: &str = "graphiql-4.1.2.min.js";
const GRAPHIQL_CSS: &str = "graphiql-4.1.2.min.css";
const REACT_JS: &str = "react-18.3.1.production.min.js";
const REACT_DOM_JS: &str = "react-dom-18.3.1.production.min.js";
const PLAYGROUND_JS: &str = "playground.js";

/// Every file `/graphql/assets/{file}` serves.
const ASSETS: &[Asset] = &[
    vendored!("graphiql-4.1.2.min.js", JS),
    vendored!("graphiql-4.1.2.min.css", CSS),
    vendored!("react-18.3.1.production.min.js", JS),
    vendored!("react-dom-18.3.1.production.min.js", JS),
    vendored!("graphiql-4.1.2.LICENSE.txt", TEXT),
    vendored!("react-18.3.1.LICENSE.txt", TEXT),
    vendored!("react-dom-18.3.1.LICENSE.txt", TEXT),
    Asset {
        name: PLAYGROUND_JS,
        content_type: JS,
        immutable: false,
        body: include_bytes!("../../assets/playground.js"),
    },
];

/// The operation the playground opens with.
const DEFAULT_QUERY: &str = r#"# Welcome to the community-gateway playground.
#
# The Headers tab below sends {"Authorization": "Bearer demo-token-alice"}: the
# opaque token of alice (user 1) in the demo community the server seeds on its
# first start. With your own data, make a token with
# `community-gateway token --user ID`, or clear the headers to ask anonymously.
#
# Press Ctrl-Enter (or the run button) to see user 1's connections as the
# viewer sees them. Try mutual: true (only connections shared with the viewer)
# or false (only the others), and follow `next` with offset.
query Connections($id: ID! = "1", $mutual: Boolean) {
  user(id: $id) {
    id
    username
    connections(limit: 5, mutual: $mutual) {
      count
      next
      previous
      results {
        id
        username
        realName
        connectionStatus
        tags {
          name
          color
        }
      }
    }
  }
}
"#;

/// `Content-Security-Policy` of the page: it loads nothing but this server's files and talks to
/// nothing but this server. Styles may be inline (React sets style attributes).
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                        img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
                        base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The playground page. Its URLs are relative to `/graphql`, so the page also works behind a
/// reverse proxy that mounts the server under a path prefix.
pub fn page() -> Response {
    let html = format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>community-gateway · GraphiQL</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="graphql/assets/{GRAPHIQL_CSS}">
<style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script id="playground-config" type="application/json">{config}</script>
<script src="graphql/assets/{REACT_JS}"></script>
<script src="graphql/assets/{REACT_DOM_JS}"></script>
<script src="graphql/assets/{GRAPHIQL_JS}"></script>
<script src="graphql/assets/{PLAYGROUND_JS}"></script>
</body>
</html>
"#,
        config = page_config(),
    );
    let mut response = Html(html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// What `playground.js` starts GraphiQL with, as JSON safe inside a `<script>` element.
fn page_config() -> String {
    let headers = json!({ "Authorization": format!("Bearer {DEMO_TOKEN}") });
    let config = json!({
        "defaultQuery": DEFAULT_QUERY,
        // GraphiQL takes the headers editor's text, so keep it readable.
        "defaultHeaders": serde_json::to_string_pretty(&headers).unwrap_or_default(),
    });
    // `<` never appears raw, so the JSON cannot close the script element.
    config.to_string().replace('<', "\\u003c")
}

/// `GET /graphql/assets/{file}`: an embedded file by exact name, else 404.
pub async fn asset(Path(file): Path<String>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == file) else {
        return ApiError::NotFound.into_response();
    };
    let cache = if asset.immutable {
        CACHE_IMMUTABLE
    } else {
        CACHE_REVALIDATE
    };
    (
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, cache),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        asset.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_asset_is_served() {
        for name in [
            GRAPHIQL_JS,
            GRAPHIQL_CSS,
            REACT_JS,
            REACT_DOM_JS,
            PLAYGROUND_JS,
        ] {
            assert!(ASSETS.iter().any(|a| a.name == name), "{name} not listed");
        }
    }

    #[test]
    fn vendored_files_stay_small() {
        for asset in ASSETS {
            assert!(
                asset.body.len() < 2 * 1024 * 1024,
                "{} is too big",
                asset.name
            );
        }
    }

    #[test]
    fn config_mentions_the_demo_token_and_cannot_close_the_script() {
        let config = page_config();
        assert!(config.contains(DEMO_TOKEN));
        assert!(DEFAULT_QUERY.contains(DEMO_TOKEN));
        assert!(!config.contains('<'));
        let parsed: serde_json::Value = serde_json::from_str(&config).expect("config is JSON");
        assert_eq!(parsed["defaultQuery"], DEFAULT_QUERY);
    }
}
