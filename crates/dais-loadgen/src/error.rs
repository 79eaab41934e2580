//! Errors of a load run, split by blame.

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadgenError {
    /// The server's fault: an answer we cannot read, a process that died.
    #[error("server: {what}")]
    Server {
        /// What went wrong.
        what: String,
    },
    /// The server refused an API call (wrong credentials, invalid request).
    #[error("{what} refused with HTTP {status}: {body}")]
    Refused {
        /// The call.
        what: String,
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// The caller's fault: options that cannot work together.
    #[error("invalid options: {0}")]
    Options(String),
    /// A local socket, file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// The operation.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}
