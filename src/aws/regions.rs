//! The per-region fan-out every regional service uses: one task per
//! region, all at once (a slow region does not hold the others back), the
//! results in the order the regions were given.

use std::future::Future;

use tokio::task::JoinSet;

/// Runs each region's task at once. Each result comes back beside its
/// region, in the order of `tasks`; `Err` with the reason for a task that
/// did not finish (it panicked or was cancelled).
pub(crate) async fn in_each_region<T, F>(
    tasks: Vec<(String, F)>,
) -> Vec<(String, Result<T, String>)>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let mut set = JoinSet::new();
    let mut index_of = std::collections::HashMap::new();
    let mut results: Vec<(String, Option<Result<T, String>>)> = Vec::new();
    for (index, (region, task)) in tasks.into_iter().enumerate() {
        let handle = set.spawn(async move { (index, task.await) });
        index_of.insert(handle.id(), index);
        results.push((region, None));
    }
    while let Some(joined) = set.join_next_with_id().await {
        match joined {
            Ok((_, (index, value))) => results[index].1 = Some(Ok(value)),
            Err(e) => {
                if let Some(index) = index_of.get(&e.id()) {
                    results[*index].1 = Some(Err(e.to_string()));
                }
            }
        }
    }
    results
        .into_iter()
        .map(|(region, result)| {
            let result = result.unwrap_or_else(|| Err("the task did not finish".to_owned()));
            (region, result)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use futures::future::{BoxFuture, FutureExt};

    use super::*;

    #[tokio::test]
    async fn results_keep_the_order_of_the_regions_and_a_failed_task_says_so() {
        let slow_first: Vec<(String, BoxFuture<'static, u32>)> = vec![
            (
                "us-east-1".to_owned(),
                async {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    1
                }
                .boxed(),
            ),
            ("eu-west-1".to_owned(), async { 2 }.boxed()),
            ("ap-south-1".to_owned(), async { panic!("boom") }.boxed()),
        ];
        let results = in_each_region(slow_first).await;
        assert_eq!(results[0], ("us-east-1".to_owned(), Ok(1)));
        assert_eq!(results[1], ("eu-west-1".to_owned(), Ok(2)));
        assert_eq!(results[2].0, "ap-south-1");
        assert!(results[2].1.as_ref().is_err_and(|e| e.contains("panicked")));
    }
}
