//! `dais`: the Dais operator command line. See the library docs for exit codes.

use std::process::ExitCode;

fn main() -> ExitCode {
    let env = dais_cli::Env::from_process();
    let code = dais_cli::run(
        std::env::args_os(),
        &env,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    ExitCode::from(code)
}
