//! Runtimes at both ends of the spacing of looks at the driver: a busy
//! scheduler thread takes its other turns (remote queue, inbox, injector)
//! on a countdown that the looks share, so a test of those turns runs at
//! the default spacing and at the closest (a look at every poll).

use motet::runtime::{Builder, Runtime};

/// A runtime from `builder` with the default spacing of looks, then one
/// with `event_interval(1)`.
pub fn with_look_spacings(builder: impl Fn() -> Builder) -> impl Iterator<Item = Runtime> {
    [None, Some(1)].into_iter().map(move |interval| {
        let mut b = builder();
        if let Some(n) = interval {
            b = b.event_interval(n);
        }
        b.build().expect("runtime")
    })
}
