//! The `awsnycast` binary: flags, logging and exit codes. Everything else lives in the library.

use std::process::ExitCode;

use awsnycast::cli::{Flags, exit};
use awsnycast::config::{Document, Vars};
use awsnycast::daemon::{self, Context, Mode};
use awsnycast::ec2::identity::Identity;

fn main() -> ExitCode {
    let flags = match Flags::parse_args(std::env::args_os()) {
        Ok(f) => f,
        Err(e) => {
            // clap renders help and usage errors itself and knows which is which.
            let _ = e.print();
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    if flags.version {
        println!("awsnycast {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    if let Err(e) = awsnycast::logging::init(flags.debug, flags.log_format, flags.syslog) {
        eprintln!("awsnycast: cannot set up logging: {e}");
        return ExitCode::from(exit::FAILURE as u8);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("awsnycast: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILURE as u8);
        }
    };
    ExitCode::from(runtime.block_on(run(flags)) as u8)
}

async fn run(flags: Flags) -> i32 {
    let doc = match Document::read(&flags.file) {
        Ok(d) => d,
        Err(errors) => {
            eprint!("{errors}");
            return exit::FAILURE;
        }
    };
    // The daemon always needs its identity; --check only when the file names it, and then
    // a missing identity is reported as a config problem with the reason.
    let mut vars = Vars::from_env();
    let mut identity = None;
    if !flags.check || doc.uses_identity() {
        match Identity::from_imds().await {
            Ok(id) => {
                vars.identity = id.interpolation_vars();
                identity = Some(id);
            }
            Err(e) if flags.check => vars.identity_unavailable = Some(e.to_string()),
            Err(e) => {
                eprintln!("awsnycast: {e}");
                return exit::FAILURE;
            }
        }
    }
    let loaded = match doc.build(&vars) {
        Ok(l) => l,
        Err(errors) => {
            eprint!("{errors}");
            return exit::FAILURE;
        }
    };
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    if flags.check {
        println!("{}: configuration is valid", flags.file.display());
        print!("{}", loaded.config.summary());
        return exit::OK;
    }
    let Some(identity) = identity else {
        // Unreachable: identity is fetched whenever --check is not given.
        return exit::FAILURE;
    };
    let mode = Mode {
        oneshot: flags.oneshot,
        noop: flags.noop,
        wait_healthy: flags.oneshot_wait_healthy,
    };
    // SIGHUP: the same file, read and validated again with the same identity and environment.
    let reload = || {
        let doc = Document::read(&flags.file).map_err(|e| e.to_string())?;
        let loaded = doc.build(&vars).map_err(|e| e.to_string())?;
        for w in &loaded.warnings {
            tracing::warn!(warning = %w, "configuration");
        }
        Ok(loaded.config)
    };
    let mut ctx = match Context::new(loaded.config, identity, !flags.oneshot).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("awsnycast: {e}");
            return exit::FAILURE;
        }
    };
    if mode.oneshot {
        return daemon::oneshot(&ctx, mode).await;
    }
    loop {
        match daemon::run(&ctx, mode, &reload).await {
            daemon::Ended::Exit(code) => return code,
            daemon::Ended::Reload(config) => ctx = ctx.reconfigured(*config).await,
        }
    }
}
