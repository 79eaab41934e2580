//! A blocking JSON client of the Dais REST API.

use std::time::Duration;

use serde_json::Value;

use crate::CliError;

/// Talks to one server with one (optional) bearer token.
#[derive(Debug)]
pub(crate) struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    pub(crate) fn new(base: &str, token: Option<String>) -> Result<Client, CliError> {
        let base = base.trim_end_matches('/').to_owned();
        if !base.starts_with("http://") {
            return Err(CliError::Usage(format!(
                "server URL must start with http:// (got `{base}`); TLS is not supported yet"
            )));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            // API errors are JSON bodies we want to read, not transport errors.
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Ok(Client { base, token, agent })
    }

    pub(crate) fn get(&self, path: &str) -> Result<Value, CliError> {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        self.finish(req.call())
    }

    pub(crate) fn post(&self, path: &str, body: Option<&Value>) -> Result<Value, CliError> {
        let mut req = self.agent.post(format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let resp = match body {
            Some(b) => req.send_json(b),
            None => req.send_empty(),
        };
        self.finish(resp)
    }

    pub(crate) fn put(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        let mut req = self.agent.put(format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        self.finish(req.send_json(body))
    }

    fn finish(
        &self,
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Value, CliError> {
        let mut resp = resp.map_err(|e| CliError::Unreachable {
            server: self.base.clone(),
            reason: e.to_string(),
        })?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| CliError::Unreachable {
                server: self.base.clone(),
                reason: format!("reading the response: {e}"),
            })?;
        let json: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).map_err(|_| CliError::BadResponse {
                status,
                body: text.chars().take(200).collect(),
            })?
        };
        if (200..300).contains(&status) {
            return Ok(json);
        }
        Err(CliError::Api {
            status,
            code: json["code"].as_str().unwrap_or("error").to_owned(),
            message: json["message"]
                .as_str()
                .map_or_else(|| format!("HTTP {status}"), str::to_owned),
        })
    }
}
