//! `ecs-ingress`: wires configuration, AWS clients, the controller and the admin server.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use ecs_ingress::admin::{self, AdminState};
use ecs_ingress::allocator::return_free_pages;
use ecs_ingress::aws::{WriteGate, clients};
use ecs_ingress::cli::outcome;
use ecs_ingress::cli::output;
use ecs_ingress::config::{Cli, Command, OutputFormat};
use ecs_ingress::events::Events;
use ecs_ingress::lease::{self, fenced::FencedAws};
use ecs_ingress::runtime::Controller;
use ecs_ingress::telemetry::Metrics;
use tokio::sync::watch;

/// jemalloc ([`ecs_ingress::allocator`]).
#[global_allocator]
static ALLOCATOR: ecs_ingress::allocator::Shipped = ecs_ingress::allocator::SHIPPED;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match ecs_ingress::cli::usage::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match run(cli).await {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(output::EXIT_ERROR)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    let (options, output, fail_on, mode) = match cli.command {
        Command::Run(o) => (o, OutputFormat::Text, Vec::new(), "run"),
        Command::Plan(p) => (p.options, p.output, p.fail_on, "plan"),
        Command::Apply(p) => (p.options, p.output, p.fail_on, "apply"),
        Command::Healthcheck(h) => {
            return Ok(match ecs_ingress::cli::probe::healthz(h.admin_addr).await {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("unhealthy: {e}");
                    output::EXIT_ERROR
                }
            });
        }
    };
    let config = options.validate()?;
    ecs_ingress::telemetry::logging::init(config.log_format);
    let metrics = Arc::new(Metrics::new(ecs_ingress::aws::OPERATIONS));
    let sdk = clients::load_sdk_config().await;
    // Leader election (only `run` campaigns): every write goes through the fence, before
    // it starts (FencedAws) and again after the rate limiter's wait (the fenced adapters).
    let election = match (&config.leader_election, mode) {
        (Some(settings), "run") => {
            Some(lease::election(settings, &config.owner_id, &sdk, metrics.clone()).await)
        }
        _ => None,
    };
    let controller = match &election {
        Some(e) => {
            let leadership = e.leadership.clone();
            let may_write: WriteGate = Arc::new(move || leadership.may_write());
            let aws = clients::real_aws_fenced(
                &sdk,
                metrics.clone(),
                config.rate_share,
                may_write.clone(),
            );
            let aws = clients::with_zone_roles(
                aws,
                &sdk,
                metrics.clone(),
                config.rate_share,
                may_write,
                &config.zone_role_settings(),
            );
            Controller::new(
                config,
                FencedAws::wrap(aws, e.leadership.clone()),
                metrics.clone(),
            )
            .with_leadership(e.leadership.clone())
            .releasing_memory_with(return_free_pages)
        }
        None => {
            let aws = clients::real_aws(&sdk, metrics.clone(), config.rate_share);
            let aws = clients::with_zone_roles(
                aws,
                &sdk,
                metrics.clone(),
                config.rate_share,
                Arc::new(|| true),
                &config.zone_role_settings(),
            );
            Controller::new(config, aws, metrics.clone()).releasing_memory_with(return_free_pages)
        }
    };
    let controller = Arc::new(controller);
    ecs_ingress::cli::pool_check::check(&controller.aws, &controller.config).await?;
    match mode {
        "plan" => {
            let report = controller.pass(false).await;
            match &report.read_problem {
                Some(problem) => eprintln!("error: {problem}"),
                None => ecs_ingress::runtime::log_degraded(&report),
            }
            match output {
                OutputFormat::Json => println!("{}", output::plan_json(&report)),
                OutputFormat::Text => print!("{}", output::plan_text(&report)),
            }
            let services = &report.plan.services;
            eprint!("{}", outcome::failing_lines(services, &fail_on));
            Ok(outcome::exit_code(
                output::plan_exit_code(&report),
                services,
                &fail_on,
            ))
        }
        "apply" => {
            let _signals = outcome::stop_on_signal(controller.clone());
            let report = controller.pass(true).await;
            match &report.read_problem {
                Some(problem) => eprintln!("error: {problem}"),
                None => ecs_ingress::runtime::log_degraded(&report),
            }
            match output {
                OutputFormat::Json => println!("{}", outcome::apply_json(&report)),
                OutputFormat::Text => print!("{}", output::apply_text(&report)),
            }
            let services = &report.status_view().services;
            eprint!("{}", outcome::failing_lines(services, &fail_on));
            let code = output::apply_exit_code(&report);
            if controller.stopping() {
                eprintln!(
                    "stopped by a signal: changes not started are planned again by the next run"
                );
                return Ok(output::EXIT_ERROR);
            }
            Ok(outcome::exit_code(code, services, &fail_on))
        }
        _ => daemon(controller, metrics, &sdk, election).await,
    }
}

/// The daemon: admin server + loop; the first signal stops after the pass in flight, a
/// second one exits at once.
async fn daemon(
    controller: Arc<Controller>,
    metrics: Arc<Metrics>,
    sdk: &aws_config::SdkConfig,
    election: Option<lease::Election>,
) -> anyhow::Result<u8> {
    let admin_state = Arc::new(
        AdminState::new(metrics.clone(), controller.config.pass_gap())
            .with_header(controller.config.page_header()),
    );
    let listener = admin::bind(controller.config.admin_addr).await?;
    // The campaign outlives the passes: it stops (and releases the lease) only after the
    // change in flight finished.
    let (campaign_stop, campaign_stopped) = watch::channel(false);
    let campaign = election.map(|e| {
        admin_state.set_leadership(e.leadership.clone());
        tokio::spawn(e.campaign.run(campaign_stopped))
    });
    controller.config.log_started();
    let events = controller.config.events_queue_url.as_ref().map(|url| {
        let queue = clients::event_queue(sdk, metrics.clone(), url);
        Events::new(queue, metrics.clone())
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    if let Some(events) = &events {
        // Only the leader takes messages off the queue.
        let events = events.clone();
        tokio::spawn(lease::during_leadership(
            controller.leadership.clone(),
            stop_rx.clone(),
            move |term| events.clone().receive_loop(term),
        ));
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
    let _ = campaign_stop.send(true);
    if let Some(campaign) = campaign {
        let _ = campaign.await;
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
