//! Stops native work when the Node environment that started it goes away:
//! `worker.terminate()`, or the end of the process. Node runs environment
//! cleanup hooks then; ours tells every fit of that environment to stop at
//! its next batch and drop what it holds, without calling into JavaScript
//! (its threadsafe functions are closed by then, and napi-rs turns calls on
//! them into no-ops). Nothing here waits: a step that is running finishes
//! its batch on ferro-nn's own threads, which Node never joins.

use napi::Env;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

/// Native work that can be told to stop.
pub trait Cancel: Send + Sync {
    fn cancel(&self);
}

type Watched = HashMap<usize, Vec<Weak<dyn Cancel>>>;

static WATCHED: Mutex<Option<Watched>> = Mutex::new(None);

fn watched<R>(f: impl FnOnce(&mut Watched) -> R) -> R {
    let mut guard = WATCHED.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(HashMap::new))
}

/// Cancels `task` if `env` is torn down before the task ends.
pub fn watch(env: &Env, task: &Arc<dyn Cancel>) -> napi::Result<()> {
    let key = env.raw() as usize;
    // An environment stays a key from its first task to its cleanup, so its
    // hook is added once.
    let first = watched(|w| {
        let first = !w.contains_key(&key);
        let list = w.entry(key).or_default();
        list.retain(|t| t.strong_count() > 0);
        list.push(Arc::downgrade(task));
        first
    });
    if first {
        env.add_env_cleanup_hook(key, cancel_all)?;
    }
    Ok(())
}

fn cancel_all(key: usize) {
    let tasks = watched(|w| w.remove(&key)).unwrap_or_default();
    for task in tasks.iter().filter_map(Weak::upgrade) {
        task.cancel();
    }
}
