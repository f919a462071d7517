//! GraphQL over HTTP (<https://graphql.github.io/graphql-over-http/draft/>): `POST /graphql`
//! with a JSON body, `GET /graphql?query=...` for queries, and the playground page for browsers.
//!
//! Hand-written rather than `async-graphql-axum`'s `GraphQL` service: that service answers every
//! error with 200 (a document that does not parse included) and always as `application/json`,
//! where GraphQL over HTTP wants a 400 in `application/graphql-response+json`, 405/406/415 for
//! requests that are not GraphQL requests, and these refusals in the same `ApiError` shapes as
//! the rest of the service. The rules it follows:
//!
//! * The response is `application/graphql-response+json` when the client lists it in `Accept`
//!   (or sends no `Accept`), else `application/json` when it accepts that (`*/*` included:
//!   legacy clients that accept anything get the legacy type); else 406.
//! * A request error (the document does not parse or validate, variables do not coerce, an
//!   unknown persisted query: the response has no `data`) is a 400 in
//!   `application/graphql-response+json` and a 200 in `application/json`, as GraphQL over HTTP says.
//! * A request that is not a GraphQL request at all (a body that is not JSON, no `query`,
//!   parameters of the wrong type) is a 400 with a `{"errors": [{"message", "extensions":
//!   {"code"}}]}` body;
//!   a POST that is not `application/json` is a 415; a mutation over GET is a 405.
//! * Apollo's automatic persisted queries work on both methods: the `extensions` parameter
//!   (a JSON object in the POST body, URL-encoded JSON text on GET) reaches
//!   `documents::Documents`, and a `query` may then be absent.

use async_graphql::parser::types::{DocumentOperations, OperationType};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::plan::{self, Fallback, Known, Plan, PlanKey};
use super::playground;
use super::request::RequestContext;
use super::state::GraphqlState;
use crate::config::Verify;
use crate::core;
use crate::error::ApiError;
use crate::extract::Credentials;

/// The official GraphQL response media type.
const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
/// The legacy one.
const APPLICATION_JSON: &str = "application/json";

/// The media type a GraphQL response is sent as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ResponseType {
    GraphqlResponseJson,
    Json,
}

impl ResponseType {
    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            ResponseType::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
            ResponseType::Json => "application/json; charset=utf-8",
        })
    }
}

/// `GET /graphql`: the GraphiQL playground for browsers, else a GraphQL-over-HTTP GET.
pub async fn get(
    State(state): State<GraphqlState>,
    credentials: Credentials,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let params = match query_params(uri.query().unwrap_or_default()) {
        Ok(params) => params,
        Err(rejection) => return refuse(rejection, negotiate(&headers)),
    };
    if params.is_empty() && accepts(&headers, "text/html") {
        return playground::page();
    }
    let Some(kind) = negotiate(&headers) else {
        return refuse(ApiError::NotAcceptable, None);
    };
    let request = match params.into_request() {
        Ok(request) => request,
        Err(rejection) => return refuse(rejection, Some(kind)),
    };
    let asker = Asker::new(&state, credentials, &headers);
    execute(&state, &asker, request, kind, Method::Get).await
}

/// The method a GraphQL request came by: over GET only queries run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Get,
    Post,
}

/// `POST /graphql` with an `application/json` body.
pub async fn post(
    State(state): State<GraphqlState>,
    credentials: Credentials,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(kind) = negotiate(&headers) else {
        return refuse(ApiError::NotAcceptable, None);
    };
    let request = check_content_type(&headers)
        .and_then(|()| body.map_err(|r| body_refusal(r, state.app.config.max_body_bytes)))
        .and_then(|body| body_params(&body))
        .and_then(Params::into_request);
    match request {
        Ok(request) => {
            let asker = Asker::new(&state, credentials, &headers);
            execute(&state, &asker, request, kind, Method::Post).await
        }
        Err(rejection) => refuse(rejection, Some(kind)),
    }
}

/// Runs the request: by its plan when the compiled path has one (`graphql::plan`), else (or
/// when the plan hands it back) on the reference executor, which also teaches the plan cache
/// the documents it validates.
async fn execute(
    state: &GraphqlState,
    asker: &Asker,
    request: async_graphql::Request,
    kind: ResponseType,
    method: Method,
) -> Response {
    let key = match state.app.config.graphql_compiled {
        true => state.documents.plan_key(&request),
        false => None,
    };
    let known = key.as_ref().and_then(|key| state.plans.get(key));
    if key.is_some() {
        let lookup = match &known {
            Some(Known::Ready(_)) => "hit",
            Some(Known::Ineligible(_)) => "ineligible",
            None => "miss",
        };
        state.app.metrics.graphql_plan_lookup(lookup);
    }
    match (known, key) {
        (Some(Known::Ready(plan)), Some(key)) => {
            compiled(state, asker, request, kind, &plan, key).await
        }
        // A document seen before without a plan is not compiled again.
        (known, key) => {
            let learn = key.filter(|_| known.is_none());
            reference(state, asker, request, kind, method, learn).await
        }
    }
}

/// A query with a plan: the plan's answer, or the reference's when the plan hands the
/// request back (or, with `GRAPHQL_VERIFY`, beside it).
async fn compiled(
    state: &GraphqlState,
    asker: &Asker,
    request: async_graphql::Request,
    kind: ResponseType,
    plan: &Plan,
    key: PlanKey,
) -> Response {
    let Ok(_permit) = state.permits.acquire().await else {
        return internal_error("GraphQL permits closed", kind);
    };
    let context = request_context(state, asker);
    let metrics = &state.app.metrics;
    let body = match plan.run(&context, &request.variables).await {
        Ok(body) => body,
        Err(fallback) => {
            metrics.graphql_execution("fallback");
            metrics.graphql_fallback(fallback.reason());
            if let Fallback::Unsupported(reason) = fallback {
                state.plans.learn(key, Known::Ineligible(reason));
            }
            return run_reference(state, request, context, kind).await;
        }
    };
    metrics.graphql_execution("compiled");
    if state.app.config.graphql_verify == Verify::Off {
        return json_bytes_response(StatusCode::OK, body, kind);
    }
    // A fresh context: the reference reads for itself, as it would alone.
    let context = request_context(state, asker);
    let reference = run_reference(state, request, context, kind).await;
    compare(state, body, kind, reference).await
}

/// `GRAPHQL_VERIFY`: the reference's answer, after comparing it (status, headers, body)
/// with the compiled one, `compiled_body` answered as `kind`. A difference is logged and
/// counted; `strict` answers it 500.
async fn compare(
    state: &GraphqlState,
    compiled_body: Vec<u8>,
    kind: ResponseType,
    reference: Response,
) -> Response {
    let verify = state.app.config.graphql_verify;
    // The status and headers a compiled answer goes out with (they do not depend on its body).
    let (compiled, _) = json_bytes_response(StatusCode::OK, Vec::new(), kind).into_parts();
    let (reference, reference_body) = reference.into_parts();
    // The reference's body is one buffer (`graphql_response`): reading it cannot fail.
    let Ok(reference_body) = axum::body::to_bytes(reference_body, usize::MAX).await else {
        return internal_error(
            "GRAPHQL_VERIFY: a body could not be read",
            ResponseType::Json,
        );
    };
    let part = if compiled.status != reference.status {
        Some("status")
    } else if compiled.headers != reference.headers {
        Some("headers")
    } else if compiled_body != reference_body {
        Some("body")
    } else {
        None
    };
    if let Some(part) = part {
        state.app.metrics.graphql_verify_difference(part);
        tracing::warn!(
            part,
            compiled_status = %compiled.status,
            reference_status = %reference.status,
            compiled = %String::from_utf8_lossy(&compiled_body[..compiled_body.len().min(4096)]),
            reference = %String::from_utf8_lossy(&reference_body[..reference_body.len().min(4096)]),
            "GRAPHQL_VERIFY: the compiled answer differs from the reference executor's"
        );
        if verify == Verify::Strict {
            // Strict is for test suites, which install no log subscriber: the difference
            // goes to the test's own output.
            eprintln!(
                "GRAPHQL_VERIFY difference in {part}\ncompiled: {compiled:?} {}\nreference: {reference:?} {}",
                String::from_utf8_lossy(&compiled_body),
                String::from_utf8_lossy(&reference_body)
            );
            let err = ApiError::Internal(anyhow::anyhow!(
                "GRAPHQL_VERIFY: executors differ in {part}"
            ));
            return refuse(err, None);
        }
    }
    Response::from_parts(reference, axum::body::Body::from(reference_body))
}

/// A request without a plan: the reference executor runs it; a document it validates is
/// compiled for the next requests (`learn`: its plan key, when it may have one).
async fn reference(
    state: &GraphqlState,
    asker: &Asker,
    request: async_graphql::Request,
    kind: ResponseType,
    method: Method,
    learn: Option<PlanKey>,
) -> Response {
    let mut request = state.documents.prepare(request);
    // Checked on the prepared document, so a persisted mutation sent by hash alone is
    // refused too; before the permit: a refusal runs nothing.
    if let (Method::Get, Ok(prepared)) = (method, &mut request) {
        if matches!(
            operation_type(prepared),
            Some(OperationType::Mutation | OperationType::Subscription)
        ) {
            return refuse(mutation_over_get(), Some(kind));
        }
    }
    // Compiled before the run (which consumes the document), remembered only if the
    // reference validates the document.
    let compiled = match (&learn, &mut request) {
        (Some(_), Ok(prepared)) => {
            let name = prepared.operation_name.clone();
            prepared
                .parsed_query()
                .ok()
                .map(|document| plan::compile(document, name.as_deref()))
        }
        _ => None,
    };
    // Wait for a permit: under a burst, operations queue here instead of all holding their
    // working memory at once. The semaphore is never closed, so acquiring cannot fail.
    let Ok(_permit) = state.permits.acquire().await else {
        return internal_error("GraphQL permits closed", kind);
    };
    let context = request_context(state, asker);
    state.app.metrics.graphql_execution("reference");
    // With GRAPHQL_VERIFY, the new plan answers this first request too, and is compared.
    let verify = state.app.config.graphql_verify;
    let check = match (&compiled, &request) {
        (Some(Known::Ready(plan)), Ok(request)) if verify != Verify::Off => {
            Some((plan.clone(), request.variables.clone()))
        }
        _ => None,
    };
    let response = match request {
        Ok(request) => state.schema.execute(request.data(context)).await,
        Err(error) => async_graphql::Response::from_errors(vec![error]),
    };
    let validated = !is_request_error(&response);
    if let (Some(key), Some(compiled), true) = (learn, compiled, validated) {
        state.plans.learn(key, compiled);
    }
    let answer = finish(state, response, kind);
    let Some((plan, variables)) = check.filter(|_| validated) else {
        return answer;
    };
    let context = request_context(state, asker);
    match plan.run(&context, &variables).await {
        Ok(body) => {
            state.app.metrics.graphql_execution("compiled");
            compare(state, body, kind, answer).await
        }
        Err(fallback) => {
            state.app.metrics.graphql_fallback(fallback.reason());
            answer
        }
    }
}

/// The reference executor on a request a plan handed back (a query: no method check).
async fn run_reference(
    state: &GraphqlState,
    request: async_graphql::Request,
    context: RequestContext,
    kind: ResponseType,
) -> Response {
    let response = match state.documents.prepare(request) {
        Ok(request) => state.schema.execute(request.data(context)).await,
        Err(error) => async_graphql::Response::from_errors(vec![error]),
    };
    finish(state, response, kind)
}

/// Who asks, and where the answer's links point: what a request's contexts are made from.
struct Asker {
    /// Checked for form and signature only; the database is asked by the first resolver (or
    /// the plan) that needs the viewer.
    credentials: Credentials,
    origin: String,
}

impl Asker {
    fn new(state: &GraphqlState, credentials: Credentials, headers: &HeaderMap) -> Asker {
        let config = &state.app.config;
        Asker {
            credentials,
            origin: core::origin(config.public_base_url.as_deref(), headers, None),
        }
    }
}

/// A fresh context for one execution of the request.
fn request_context(state: &GraphqlState, asker: &Asker) -> RequestContext {
    RequestContext::new(
        state.app.source.clone(),
        state.app.config.clone(),
        asker.credentials.clone(),
        asker.origin.clone(),
    )
}

/// Counts the response's errors, then renders it.
fn finish(state: &GraphqlState, response: async_graphql::Response, kind: ResponseType) -> Response {
    for error in &response.errors {
        let code = error_code(error).unwrap_or("GRAPHQL_VALIDATION_FAILED");
        state.app.metrics.graphql_error(code);
    }
    graphql_response(response, kind)
}

/// The HTTP response of an executed GraphQL request.
fn graphql_response(response: async_graphql::Response, kind: ResponseType) -> Response {
    let request_error = is_request_error(&response);
    let status = if request_error && kind == ResponseType::GraphqlResponseJson {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = ResponseBody {
        // A request error has no `data` entry at all (not even null).
        data: (!request_error).then_some(&response.data),
        extensions: &response.extensions,
        errors: &response.errors,
    };
    // Straight to bytes: through a `serde_json::Value` first, a page's response was built
    // twice (measured: a tenth of a GraphQL page's CPU).
    let body = match serde_json::to_vec(&body) {
        Ok(body) => body,
        Err(err) => return internal_error(err, kind),
    };
    let mut http = json_bytes_response(status, body, kind);
    let headers = http.headers_mut();
    if response.is_ok() {
        if let Some(value) = response
            .cache_control
            .value()
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            headers.insert(header::CACHE_CONTROL, value);
        }
    }
    // Every error says the database is away: a client's generic retry logic should see it.
    if !response.errors.is_empty()
        && response
            .errors
            .iter()
            .all(|e| error_code(e) == Some("SERVICE_UNAVAILABLE"))
    {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    headers.extend(response.http_headers);
    http
}

/// An error's `extensions.code`, when it has one.
fn error_code(error: &async_graphql::ServerError) -> Option<&str> {
    match error.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(code) => Some(code.as_str()),
        _ => None,
    }
}

/// Whether execution never started: errors but no data, and no error belongs to a field.
fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// An executed request's answer, serialized as async-graphql's `Response` is (same keys, same
/// order), with `data` left out for a request error.
#[derive(serde::Serialize)]
struct ResponseBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a async_graphql::Value>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [async_graphql::ServerError],
}

/// `body`, already JSON, with the content type of `kind` (and `Vary: Accept`, since it
/// depends on it).
fn json_bytes_response(status: StatusCode, body: Vec<u8>, kind: ResponseType) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, kind.content_type());
    headers.append(header::VARY, HeaderValue::from_static("accept"));
    response
}

fn internal_error(err: impl std::fmt::Display, kind: ResponseType) -> Response {
    let err = ApiError::Internal(anyhow::anyhow!("graphql response: {err}"));
    refuse(err, Some(kind))
}

// ---------------------------------------------------------------------------------------------
// Content negotiation

/// The media ranges of the `Accept` headers, with their weights; None without `Accept`.
fn accept_ranges(headers: &HeaderMap) -> Option<Vec<(String, f32)>> {
    let mut values = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .peekable();
    values.peek()?;
    let ranges = values
        .flat_map(|value| value.split(','))
        .filter_map(|range| {
            let mut parts = range.split(';');
            let media = parts.next()?.trim().to_ascii_lowercase();
            if media.is_empty() {
                return None;
            }
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .map(|q| q.trim().parse::<f32>().unwrap_or(0.0))
                .next()
                .unwrap_or(1.0);
            Some((media, q))
        })
        .collect();
    Some(ranges)
}

/// The highest weight `Accept` gives to exactly `media`, if it names it.
fn weight(ranges: &[(String, f32)], media: &str) -> Option<f32> {
    ranges
        .iter()
        .filter(|(m, _)| m == media)
        .map(|(_, q)| *q)
        .reduce(f32::max)
}

/// Whether the client accepts `media` by name.
fn accepts(headers: &HeaderMap, media: &str) -> bool {
    accept_ranges(headers)
        .and_then(|ranges| weight(&ranges, media))
        .is_some_and(|q| q > 0.0)
}

/// The response media type for the client's `Accept`, or None when it accepts neither.
///
/// No (or an empty) `Accept` means `application/graphql-response+json`; so does naming it with
/// a weight at least that of `application/json`. Wildcards (`*/*`, `application/*`) stand for
/// `application/json`, which every client understands.
fn negotiate(headers: &HeaderMap) -> Option<ResponseType> {
    let ranges = match accept_ranges(headers) {
        None => return Some(ResponseType::GraphqlResponseJson),
        Some(ranges) if ranges.is_empty() => return Some(ResponseType::GraphqlResponseJson),
        Some(ranges) => ranges,
    };
    let graphql = weight(&ranges, GRAPHQL_RESPONSE_JSON).unwrap_or(0.0);
    let json = weight(&ranges, APPLICATION_JSON)
        .or_else(|| {
            [weight(&ranges, "application/*"), weight(&ranges, "*/*")]
                .into_iter()
                .flatten()
                .reduce(f32::max)
        })
        .unwrap_or(0.0);
    if graphql > 0.0 && graphql >= json {
        Some(ResponseType::GraphqlResponseJson)
    } else if json > 0.0 {
        Some(ResponseType::Json)
    } else {
        None
    }
}

/// A POST must say its body is JSON (UTF-8, the only encoding JSON has).
fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(ApiError::UnsupportedMediaType(
            "Missing Content-Type: send the request as application/json.".to_string(),
        ));
    };
    let value = value.to_str().unwrap_or_default().to_ascii_lowercase();
    let mut parts = value.split(';').map(str::trim);
    let media = parts.next().unwrap_or_default();
    let charset_ok = parts
        .filter_map(|p| p.strip_prefix("charset="))
        .all(|c| c.trim_matches('"') == "utf-8");
    if media == APPLICATION_JSON && charset_ok {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(
            "Unsupported Content-Type: send the request as application/json (UTF-8).".to_string(),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Request parameters

/// The four GraphQL-over-HTTP request parameters, checked for type.
#[derive(Default, Debug)]
struct Params {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<Map<String, Value>>,
    extensions: Option<Map<String, Value>>,
}

impl Params {
    /// No parameter at all (a plain `GET /graphql`).
    fn is_empty(&self) -> bool {
        self.query.is_none()
            && self.operation_name.is_none()
            && self.variables.is_none()
            && self.extensions.is_none()
    }

    /// Whether the client sends an Apollo persisted query hash (then `query` may be absent).
    fn has_persisted_query(&self) -> bool {
        self.extensions
            .as_ref()
            .is_some_and(|e| e.contains_key("persistedQuery"))
    }

    /// The request for the schema, or a 400 when there is nothing to run.
    fn into_request(self) -> Result<async_graphql::Request, ApiError> {
        let has_query = self.query.as_deref().is_some_and(|q| !q.trim().is_empty());
        if !has_query && !self.has_persisted_query() {
            return Err(ApiError::BadRequest(
                "Missing `query`: send the GraphQL document as the `query` parameter.".to_string(),
            ));
        }
        let request = json!({
            "query": self.query.unwrap_or_default(),
            "operationName": self.operation_name,
            "variables": self.variables,
            "extensions": self.extensions,
        });
        serde_json::from_value(request)
            .map_err(|e| ApiError::BadRequest(format!("Invalid request parameters: {e}")))
    }
}

/// The parameters of a POST body: a JSON object.
fn body_params(body: &[u8]) -> Result<Params, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest(
            "Empty request body: send a JSON object with a `query`.".to_string(),
        ));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("The request body is not valid JSON: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err(ApiError::BadRequest(
            "The request body must be a JSON object (batched requests are not supported)."
                .to_string(),
        ));
    };
    Ok(Params {
        query: string_param(&mut object, "query")?,
        operation_name: string_param(&mut object, "operationName")?,
        variables: object_param(object.remove("variables"), "variables")?,
        extensions: object_param(object.remove("extensions"), "extensions")?,
    })
}

/// `name` of a JSON body: absent or null, else it must be a string.
fn string_param(object: &mut Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match object.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::BadRequest(format!("`{name}` must be a string."))),
    }
}

/// A `variables` or `extensions` value: absent or null, else it must be a JSON object.
fn object_param(value: Option<Value>, name: &str) -> Result<Option<Map<String, Value>>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err(ApiError::BadRequest(format!(
            "`{name}` must be a JSON object."
        ))),
    }
}

/// The parameters of a GET: `query` and `operationName` as text, `variables` and `extensions`
/// as URL-encoded JSON objects. Empty values count as absent.
fn query_params(query_string: &str) -> Result<Params, ApiError> {
    let mut params = Params::default();
    for (key, value) in form_urlencoded::parse(query_string.as_bytes()) {
        if value.is_empty() {
            continue;
        }
        match key.as_ref() {
            "query" => params.query = Some(value.into_owned()),
            "operationName" => params.operation_name = Some(value.into_owned()),
            "variables" => params.variables = json_object_param(&value, "variables")?,
            "extensions" => params.extensions = json_object_param(&value, "extensions")?,
            _ => {}
        }
    }
    Ok(params)
}

/// A GET parameter holding a JSON object (or null).
fn json_object_param(text: &str, name: &str) -> Result<Option<Map<String, Value>>, ApiError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ApiError::BadRequest(format!("`{name}` is not valid JSON: {e}")))?;
    object_param(Some(value), name)
}

/// The type of the operation a prepared request (`documents::Documents::prepare`: its
/// document is parsed) would run, when its document names one (else execution reports the
/// problem).
fn operation_type(request: &mut async_graphql::Request) -> Option<OperationType> {
    let name = request.operation_name.clone();
    let document = request.parsed_query().ok()?;
    let operation = match (&document.operations, name) {
        (DocumentOperations::Single(op), None) => Some(op),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name.as_str()),
        _ => None,
    }?;
    Some(operation.node.ty)
}

// ---------------------------------------------------------------------------------------------
// Rejections

/// A request refused before execution, in the GraphQL-over-HTTP shape
/// (`{"errors": [{"message", "extensions": {"code"}}]}`), in the negotiated media type
/// (`application/json` when there is none).
fn refuse(err: ApiError, kind: Option<ResponseType>) -> Response {
    let kind = kind.unwrap_or(ResponseType::Json);
    let mut response = err.response_with(&err.graphql_body(), kind.content_type());
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("accept"));
    response
}

/// A refusal made in front of the door (a tower layer's: timeout, body limit, rate limit), in
/// the door's shape and the media type the client's `Accept` asks for.
pub fn refusal(headers: &HeaderMap, err: ApiError) -> Response {
    refuse(err, negotiate(headers))
}

/// Methods other than GET and POST.
pub async fn method_not_allowed(method: axum::http::Method, headers: HeaderMap) -> Response {
    refusal(
        &headers,
        ApiError::method_not_allowed(&method, "GET, HEAD, POST"),
    )
}

fn mutation_over_get() -> ApiError {
    ApiError::MethodNotAllowed {
        message: "Mutations and subscriptions are not allowed over GET: use POST.".to_string(),
        allow: "POST",
    }
}

/// A body that could not be read: too large (413), or broken on the way (400).
fn body_refusal(rejection: BytesRejection, limit: usize) -> ApiError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge { limit },
        _ => ApiError::BadRequest(rejection.body_text()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = value {
            headers.insert(
                header::ACCEPT,
                HeaderValue::from_str(value).expect("header"),
            );
        }
        headers
    }

    #[test]
    fn negotiation() {
        use ResponseType::*;
        let cases = [
            (None, Some(GraphqlResponseJson)),
            (Some(""), Some(GraphqlResponseJson)),
            (
                Some("application/graphql-response+json"),
                Some(GraphqlResponseJson),
            ),
            (
                Some("application/graphql-response+json, application/json;q=0.9"),
                Some(GraphqlResponseJson),
            ),
            (
                Some("application/json, application/graphql-response+json;q=0.5"),
                Some(Json),
            ),
            (Some("application/json"), Some(Json)),
            (Some("application/json; charset=utf-8"), Some(Json)),
            (Some("*/*"), Some(Json)),
            (
                Some("text/html,application/xhtml+xml,*/*;q=0.8"),
                Some(Json),
            ),
            (Some("text/plain"), None),
            (Some("application/json;q=0"), None),
        ];
        for (value, want) in cases {
            assert_eq!(negotiate(&accept(value)), want, "Accept: {value:?}");
        }
    }

    #[test]
    fn get_parameters() {
        let params = query_params(
            "query=%7Ba%7D&operationName=&variables=%7B%22a%22%3A1%7D&extensions=null",
        )
        .expect("parses");
        assert_eq!(params.query.as_deref(), Some("{a}"));
        assert_eq!(params.operation_name, None);
        assert_eq!(params.variables.map(|v| v.len()), Some(1));
        assert!(params.extensions.is_none());
        assert!(query_params("variables=%5B1%5D").is_err());
        assert!(query_params("variables=%7B").is_err());
        assert!(query_params("").expect("parses").is_empty());
    }

    #[test]
    fn body_parameters() {
        assert!(body_params(b"").is_err());
        assert!(body_params(b"{ \"not a JSON").is_err());
        assert!(body_params(b"[]").is_err());
        assert!(body_params(br#"{"query": 1}"#).is_err());
        assert!(body_params(br#"{"query": "{a}", "variables": "x"}"#).is_err());
        let params = body_params(br#"{"query": "{a}", "operationName": null}"#).expect("parses");
        assert!(params.into_request().is_ok());
        let missing = body_params(br#"{"qeury": "{a}"}"#).expect("parses");
        assert!(missing.into_request().is_err());
        let apq =
            body_params(br#"{"extensions": {"persistedQuery": {"version": 1}}}"#).expect("parses");
        assert!(apq.into_request().is_ok());
    }

    #[test]
    fn operation_types() {
        let kind = |query: &str, name: Option<&str>| {
            let mut request = async_graphql::Request::new(query);
            request.operation_name = name.map(str::to_string);
            operation_type(&mut request)
        };
        assert_eq!(kind("{ a }", None), Some(OperationType::Query));
        assert_eq!(kind("mutation { a }", None), Some(OperationType::Mutation));
        assert_eq!(
            kind("query A { a } mutation B { b }", Some("B")),
            Some(OperationType::Mutation)
        );
        assert_eq!(kind("query A { a } mutation B { b }", None), None);
        assert_eq!(kind("{", None), None);
    }
}
