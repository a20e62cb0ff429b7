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

/// As [`every`], but starts only once `start` is done (or not at all, on shutdown before it):
/// retention's first run, whose statements hold SQLite's one connection for up to a second at
/// a million cases, waits for the first reminder sweep.
pub async fn every_after<S, F, Fut>(name: &'static str, cron: &str, start: S, mut shutdown: watch::Receiver<bool>, task: F) -> anyhow::Result<()>
where
    S: Future<Output = ()>,
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    tokio::select! {
        _ = start => {}
        _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
    }
    every(name, cron, shutdown, task).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_job_that_waits_starts_when_told_and_not_before() {
        let (start_tx, mut start_rx) = watch::channel(false);
        let (stop_tx, stop_rx) = watch::channel(false);
        let (ran_tx, mut ran) = mpsc::unbounded_channel();
        let job = tokio::spawn(async move {
            let start = async move {
                let _ = start_rx.wait_for(|started| *started).await;
            };
            every_after("test", "0 0 3 * * *", start, stop_rx, move || {
                let _ = ran_tx.send(());
                std::future::ready(())
            })
            .await
        });
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        assert!(ran.try_recv().is_err(), "ran before it was told to start");
        start_tx.send(true).unwrap();
        ran.recv().await.expect("runs once started");
        stop_tx.send(true).unwrap();
        job.await.unwrap().unwrap();
    }
}
