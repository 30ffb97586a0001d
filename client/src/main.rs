use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = imkit_client::Cli::parse();
    match imkit_client::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("imchat: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
