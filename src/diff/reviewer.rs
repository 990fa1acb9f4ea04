//! The review of a streamed build or `diff`: an [`Observer`] of the stager that works out each
//! changed file's semantic changes as it passes, keeps both sides of the targets reviewed whole
//! until the end, and, for `diff`, both texts of every file that changes.

use crate::output::stage::Observer;
use crate::output::write::Action;
use crate::output::{FileDiff, Files};
use crate::review::Change;
use crate::targets;
use std::sync::{Mutex, PoisonError};

/// Reviews files as a [`crate::output::stage::Stager`] passes them on.
#[derive(Debug, Default)]
pub struct Reviewer {
    keep_texts: bool,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    changes: Vec<Change>,
    /// Both sides of every file of the targets reviewed whole.
    whole: (Files, Files),
    diffs: Vec<FileDiff>,
}

/// What a [`Reviewer`] found.
#[derive(Debug, Default)]
pub struct Reviewed {
    /// The semantic changes, in report order.
    pub changes: Vec<Change>,
    /// With `keep_texts`: the files that change, with both texts, by path.
    pub files: Vec<FileDiff>,
}

impl Reviewer {
    /// A reviewer; with `keep_texts` it also keeps both texts of each file that changes (`diff`).
    pub fn new(keep_texts: bool) -> Self {
        Reviewer { keep_texts, state: Mutex::default() }
    }

    /// Reviews the targets read whole and returns everything found (and resets the reviewer).
    pub fn finish(&self) -> Reviewed {
        let State { mut changes, whole, mut diffs } = std::mem::take(&mut *self.state());
        changes.extend(targets::review(&whole.0, &whole.1));
        targets::sort_changes(&mut changes);
        diffs.sort_by(|a, b| a.path.cmp(&b.path));
        Reviewed { changes, files: diffs }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Observer for Reviewer {
    fn file(&self, path: &str, action: Action, old: Option<&str>, new: Option<&str>) {
        let whole = targets::reviewed_whole(path);
        let side = |text: Option<&str>| Files::from_iter(text.map(|t| (path.to_owned(), t.to_owned())));
        let changes = if action != Action::Unchanged && !whole { targets::review(&side(old), &side(new)) } else { Vec::new() };
        let diff = (self.keep_texts && action != Action::Unchanged)
            .then(|| FileDiff { path: path.to_owned(), action, old: old.map(str::to_owned), new: new.map(str::to_owned) });
        let mut state = self.state();
        state.changes.extend(changes);
        state.diffs.extend(diff);
        if whole {
            state.whole.0.extend(side(old));
            state.whole.1.extend(side(new));
        }
    }
}
