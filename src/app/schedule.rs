//! Periodic work on tokio-cron-scheduler. The crate fixes the UTC offset of a job when it is
//! created, so jobs here only *trigger* work; what is due is decided by the work itself from the
//! current time (in Amsterdam where it matters), never from the trigger time.

use std::future::Future;

use tokio::sync::{mpsc, watch};
use tokio_cron_scheduler::{Job, JobScheduler};

/// Runs `task` once now and then at every tick of `cron` (six fields, seconds first, UTC)
/// until shutdown. A tick that arrives while the task still runs is dropped, not queued.
pub async fn every<F, Fut>(name: &'static str, cron: &str, mut shutdown: watch::Receiver<bool>, mut task: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let (tick_tx, mut ticks) = mpsc::channel::<()>(1);
    let mut scheduler = JobScheduler::new().await?;
    scheduler
        .add(Job::new_async(cron, move |_, _| {
            let tick_tx = tick_tx.clone();
            Box::pin(async move {
                let _ = tick_tx.try_send(());
            })
        })?)
        .await?;
    scheduler.start().await?;
    tracing::info!(job = name, cron, "scheduled");
    loop {
        task().await;
        tokio::select! {
            tick = ticks.recv() => if tick.is_none() { break },
            _ = shutdown.changed() => break,
        }
    }
    let _ = scheduler.shutdown().await;
    Ok(())
}
