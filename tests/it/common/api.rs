//! A client of one served app, for the tests that drive it over HTTP as several viewers: the
//! REST routes under `/api/v2/user/` and `/graphql`, with a JWT per viewer.

use community_gateway::store::Store;
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};

use super::{jwt, serve};

/// The REST routes' prefix.
const USER: &str = "/api/v2/user/";

/// A client of one served app.
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
}

impl Api {
    /// Serves the app over `store` (the default test configuration) and connects to it.
    pub async fn new(store: &Store) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: serve(store.clone()).await,
        }
    }

    /// The same with the graph cache off: every read runs SQL (`sql_only_config`).
    pub async fn sql_only(store: &Store) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: super::serve_with(store.clone(), super::sql_only_config()).await,
        }
    }

    /// `method` on `path_and_query` with `token` (None: no credentials), not sent yet: the
    /// caller adds what its case needs (headers, a body, query parameters).
    pub fn request(
        &self,
        method: &str,
        path_and_query: &str,
        token: Option<&str>,
    ) -> RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let request = self
            .http
            .request(method, format!("{}{path_and_query}", self.base));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// `method` on `path_and_query` with `token` (None: no credentials), sent.
    pub async fn send(&self, method: &str, path_and_query: &str, token: Option<&str>) -> Response {
        self.request(method, path_and_query, token)
            .send()
            .await
            .unwrap()
    }

    /// `method` on `/api/v2/user/{path}` as `viewer` (anonymous: None): status and JSON body
    /// (Null when empty).
    pub async fn call(&self, method: &str, path: &str, viewer: Option<i64>) -> (StatusCode, Value) {
        let token = viewer.map(jwt);
        let response = self
            .send(method, &format!("{USER}{path}"), token.as_deref())
            .await;
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        (status, body)
    }

    /// The lifecycle action `POST {target}/{route}/` as `viewer`: status and JSON body.
    pub async fn act(&self, viewer: i64, target: i64, route: &str) -> (StatusCode, Value) {
        self.call("POST", &format!("{target}/{route}/"), Some(viewer))
            .await
    }

    /// The lifecycle action `POST {target}/{route}/` as `viewer`, its body not read (for the
    /// tests that only need it done, and check the status themselves).
    pub async fn act_response(&self, viewer: i64, target: i64, route: &str) -> Response {
        let path = format!("{USER}{target}/{route}/");
        self.send("POST", &path, Some(&jwt(viewer))).await
    }

    /// `connection_status` of `target` for `viewer`, through route 9.
    pub async fn status(&self, viewer: i64, target: i64) -> Value {
        let (code, body) = self
            .call("GET", &format!("{target}/connection_status/"), Some(viewer))
            .await;
        assert_eq!(code, StatusCode::OK, "{body}");
        body["connection_status"].clone()
    }

    /// Whether `target` is listed on `viewer`'s connections page (served from the cache).
    pub async fn listed(&self, viewer: i64, target: i64) -> bool {
        let (code, body) = self
            .call(
                "GET",
                &format!("{viewer}/connections/?limit=100"),
                Some(viewer),
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{body}");
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|user| user["id"] == json!(target))
    }

    /// GET as `viewer`: status and body text.
    pub async fn get_text(&self, path_and_query: &str, viewer: i64) -> (StatusCode, String) {
        let response = self.send("GET", path_and_query, Some(&jwt(viewer))).await;
        (response.status(), response.text().await.unwrap())
    }

    /// GET as `viewer`, expecting 200: the JSON body (its links name the served address).
    pub async fn page(&self, path_and_query: &str, viewer: i64) -> Value {
        let (status, text) = self.get_text(path_and_query, viewer).await;
        assert_eq!(status, StatusCode::OK, "{path_and_query}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// GET as `viewer` with `Host: testserver`, expecting 200: the JSON body, with links as
    /// the GraphQL tests' (which send that host) read them.
    pub async fn testserver_page(&self, path_and_query: &str, viewer: i64) -> Value {
        let response = self
            .request("GET", path_and_query, Some(&jwt(viewer)))
            .header("Host", "testserver")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path_and_query}");
        response.json().await.unwrap()
    }

    /// POSTs `query` to `/graphql` with `token` (None: anonymous) and `Host: testserver`;
    /// expects 200.
    pub async fn gql_token(&self, token: Option<&str>, query: &str) -> Value {
        let response = self
            .request("POST", "/graphql", token)
            .header("Host", "testserver")
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{query}");
        response.json().await.unwrap()
    }

    /// POSTs `query` to `/graphql` as `viewer`; expects 200.
    pub async fn gql(&self, viewer: i64, query: &str) -> Value {
        self.gql_token(Some(&jwt(viewer)), query).await
    }
}
