//! `ecs-ingress`: wires configuration, AWS clients, the controller and the admin server.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use ecs_ingress::admin::{self, AdminState};
use ecs_ingress::aws::clients;
use ecs_ingress::cli;
use ecs_ingress::config::{Cli, Command, OutputFormat};
use ecs_ingress::events::Events;
use ecs_ingress::runtime::Controller;
use ecs_ingress::telemetry::{self, Metrics};
use tokio::sync::watch;

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(cli::EXIT_ERROR)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    let (options, output, mode) = match cli.command {
        Command::Run(o) => (o, OutputFormat::Text, "run"),
        Command::Plan(p) => (p.options, p.output, "plan"),
        Command::Apply(o) => (o, OutputFormat::Text, "apply"),
        Command::Healthcheck(h) => {
            return Ok(match ecs_ingress::probe::healthz(h.admin_addr).await {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("unhealthy: {e}");
                    cli::EXIT_ERROR
                }
            });
        }
    };
    let config = options.validate()?;
    telemetry::init_logging(config.log_format);
    let metrics = Arc::new(Metrics::new());
    let sdk = clients::load_sdk_config().await;
    let aws = clients::real_aws(&sdk, metrics.clone(), config.rate_share);
    let controller = Arc::new(Controller::new(config, aws, metrics.clone()));
    match mode {
        "plan" => {
            let report = controller.pass(false).await;
            if let Some(problem) = &report.read_problem {
                eprintln!("error: {problem}");
            }
            match output {
                OutputFormat::Json => println!("{}", cli::plan_json(&report)),
                OutputFormat::Text => print!("{}", cli::plan_text(&report)),
            }
            Ok(cli::plan_exit_code(&report))
        }
        "apply" => {
            let report = controller.pass(true).await;
            if let Some(problem) = &report.read_problem {
                eprintln!("error: {problem}");
            }
            print!("{}", cli::apply_text(&report));
            Ok(cli::apply_exit_code(&report))
        }
        _ => daemon(controller, metrics, &sdk).await,
    }
}

/// The daemon: admin server + loop; the first signal stops after the pass in flight, a
/// second one exits at once.
async fn daemon(
    controller: Arc<Controller>,
    metrics: Arc<Metrics>,
    sdk: &aws_config::SdkConfig,
) -> anyhow::Result<u8> {
    let admin_state = Arc::new(AdminState::new(metrics.clone(), controller.config.interval));
    let listener = admin::bind(controller.config.admin_addr).await?;
    ecs_ingress::logging::started(&controller.config);
    let events = controller.config.events_queue_url.as_ref().map(|url| {
        let queue = clients::event_queue(sdk, metrics.clone(), url);
        Events::new(queue, metrics.clone())
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    if let Some(events) = &events {
        tokio::spawn(events.clone().receive_loop(stop_rx.clone()));
    }
    let server_stop = {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let server = tokio::spawn(admin::serve(listener, admin_state.clone(), server_stop));
    let loop_task = {
        let controller = controller.clone();
        let admin_state = admin_state.clone();
        tokio::spawn(async move { controller.run(admin_state, events).await })
    };
    shutdown_signal()
        .await
        .context("cannot listen for signals")?;
    tracing::info!("shutting down after the pass in flight (signal again to exit at once)");
    controller.shutdown();
    let _ = stop_tx.send(true);
    tokio::select! {
        _ = loop_task => {}
        r = shutdown_signal() => {
            r.context("cannot listen for signals")?;
            tracing::warn!("second signal: exiting now");
            return Ok(1);
        }
    }
    let _ = server.await;
    tracing::info!("stopped");
    Ok(0)
}

async fn shutdown_signal() -> std::io::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}
