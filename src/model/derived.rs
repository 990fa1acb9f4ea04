//! Values a target derives from the whole model once and reads more than once: the checks that
//! run before any target (`targets::unexpressed`) and the emitter both need, for example, the
//! Terraform module merged across environments, which is the most expensive thing a build makes.
//!
//! The model stays ignorant of what is stored: each value is keyed by its type, which the target
//! that derives it owns. A lowered model is not changed afterwards, so nothing here is
//! invalidated; a clone starts empty, because the clone may be changed, and the one change the
//! model itself offers ([`super::Model::without_grants`]) empties it.

use std::any::{Any, TypeId};
use std::sync::{Arc, Mutex};

/// Derived values, one per type.
#[derive(Default)]
pub struct Derived {
    slots: Mutex<Vec<(TypeId, Arc<dyn Any + Send + Sync>)>>,
}

impl Derived {
    /// The value of type `T`, made by `make` the first time it is asked for. Two threads asking
    /// at once may both make it; the first one stored wins, so every reader sees the same value.
    pub fn get_or_make<T: Any + Send + Sync>(&self, make: impl FnOnce() -> T) -> Arc<T> {
        if let Some(found) = self.find::<T>() {
            return found;
        }
        let made: Arc<dyn Any + Send + Sync> = Arc::new(make());
        let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let stored = match slots.iter().find(|(id, _)| *id == TypeId::of::<T>()) {
            Some((_, value)) => value.clone(),
            None => {
                slots.push((TypeId::of::<T>(), made.clone()));
                made
            }
        };
        stored.downcast::<T>().unwrap_or_else(|_| unreachable!("slots are keyed by their value's type"))
    }

    /// The value of type `T`, if made, removed: for its last reader, so the memory goes with
    /// that reader's copy (a later reader makes it again).
    pub fn take<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let at = slots.iter().position(|(id, _)| *id == TypeId::of::<T>())?;
        slots.swap_remove(at).1.downcast::<T>().ok()
    }

    fn find<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (_, value) = slots.iter().find(|(id, _)| *id == TypeId::of::<T>())?;
        value.clone().downcast::<T>().ok()
    }
}

impl Clone for Derived {
    fn clone(&self) -> Self {
        Derived::default()
    }
}

impl std::fmt::Debug for Derived {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.slots.lock().map_or(0, |slots| slots.len());
        write!(f, "Derived({count} value(s))")
    }
}

#[cfg(test)]
mod tests {
    use super::Derived;
    use std::cell::Cell;

    #[test]
    fn a_value_is_made_once_per_type_until_taken_and_a_clone_starts_empty() {
        struct Count(u32);
        let derived = Derived::default();
        let made = Cell::new(0);
        let make = || {
            made.set(made.get() + 1);
            Count(made.get())
        };
        assert_eq!(derived.get_or_make(make).0, 1);
        assert_eq!(derived.get_or_make(make).0, 1, "the stored value, not a second one");
        assert_eq!(*derived.get_or_make(|| String::from("other type")), "other type");
        assert_eq!(made.get(), 1);
        assert_eq!(derived.clone().get_or_make(make).0, 2, "a clone derives again");
        assert_eq!(derived.take::<Count>().map(|c| c.0), Some(1));
        assert!(derived.take::<Count>().is_none(), "taken");
        assert_eq!(derived.get_or_make(make).0, 3, "made again after it was taken");
    }
}
