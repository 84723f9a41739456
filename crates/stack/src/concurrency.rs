//! Container actions run at once, at most `--parallel` of them (compose's MaxConcurrency).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Runs `job` on every item, `limit` at a time (all at once if `None`), and returns the results
/// in the items' order. Items are taken in order, so a job that waits for earlier items' jobs
/// (a container waiting for its dependencies, listed before it) never waits for one not started.
/// With one worker the jobs run in order on the calling thread: no thread is started for a
/// single job, nor for none (a no-op `up`).
pub(crate) fn run_all<T: Sync, R: Send>(items: &[T], limit: Option<usize>, job: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = limit.unwrap_or(items.len()).clamp(1, items.len().max(1));
    if workers == 1 {
        return items.iter().map(job).collect();
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = items.get(index) else { break };
                    let result = job(item);
                    results.lock().unwrap_or_else(|p| p.into_inner())[index] = Some(result);
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        }
    });
    results.into_inner().unwrap_or_else(|p| p.into_inner()).into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::run_all;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The most jobs seen running at once over `items` with `limit`.
    fn peak(items: usize, limit: Option<usize>) -> usize {
        let (running, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let all: Vec<usize> = (0..items).collect();
        let results = run_all(&all, limit, |i| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(20));
            running.fetch_sub(1, Ordering::SeqCst);
            i * 2
        });
        assert_eq!(results, all.iter().map(|i| i * 2).collect::<Vec<_>>(), "results in the items' order");
        peak.load(Ordering::SeqCst)
    }

    #[test]
    fn never_more_than_the_limit_at_once() {
        assert_eq!(peak(6, Some(1)), 1);
        assert!(peak(6, Some(2)) <= 2);
        assert_eq!(peak(0, Some(3)), 0);
    }

    #[test]
    fn one_worker_runs_the_jobs_in_order_on_the_calling_thread() {
        let caller = std::thread::current().id();
        let seen = std::sync::Mutex::new(Vec::new());
        let results = run_all(&[1, 2, 3], Some(1), |i| {
            assert_eq!(std::thread::current().id(), caller);
            seen.lock().unwrap().push(*i);
            i * 10
        });
        assert_eq!((results, seen.into_inner().unwrap()), (vec![10, 20, 30], vec![1, 2, 3]));
        assert_eq!(run_all(&[7], None, |i| (std::thread::current().id() == caller, *i)), [(true, 7)]);
        assert!(run_all(&[] as &[u8], None, |i| *i).is_empty());
    }
}
