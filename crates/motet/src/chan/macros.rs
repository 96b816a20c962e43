//! `select!` and `select_async!`: sugar over [`Select`](super::Select).
//!
//! The parser walks the arms one at a time; each step declares that arm's
//! `__arm` in a new block and recurses, so every arm gets its own
//! (hygienically distinct) variable without counting. The last step adds
//! every arm to a `Select`, runs it, and runs the body of the arm that
//! completed (found by `is_done`, which also catches an arm that completed
//! in the instant a timeout fired).

/// Waits on several channel operations and runs the body of the one that
/// completes (blocking form: parks an OS thread, through
/// [`wait`](crate::wait::wait)). Go's `select`:
///
/// - `recv(rx) -> res => body`: `res` is `Result<T, RecvError>` (a closed
///   channel is always ready, with `Err`);
/// - `send(tx, value) -> res => body`: `res` is `Result<(), SendError<T>>`;
/// - `timeout(duration) => body`: no arm completed in time;
/// - `default => body`: no arm was ready (never waits).
///
/// When several arms are ready, each is equally likely to run. Arms that
/// lose take nothing (a value stays in its channel; an unsent value is
/// dropped with the macro's frame).
///
/// # Panics
///
/// On an event-loop thread: use [`select_async!`](crate::select_async)
/// there.
///
/// ```
/// use std::time::Duration;
/// let (tx, rx) = motet::chan::bounded::<i32>(1);
/// let (_tx2, rx2) = motet::chan::bounded::<&str>(1);
/// tx.send(7).unwrap();
/// let got = motet::select! {
///     recv(rx) -> v => v.unwrap(),
///     recv(rx2) -> _s => -1,
///     timeout(Duration::from_secs(1)) => -2,
/// };
/// assert_eq!(got, 7);
/// let none = motet::select! {
///     recv(rx) -> _v => false,
///     default => true,
/// };
/// assert!(none);
/// ```
#[macro_export]
macro_rules! select {
    ($($t:tt)*) => { $crate::__select_parse!(@blocking {} {} $($t)*) };
}

/// The async form of [`select!`](crate::select): the same arms, used
/// inside an `async` block (it expands to an `.await`). `timeout` uses the
/// current runtime's timers ([`motet::time::timeout`](crate::time::timeout)).
///
/// ```
/// # let rt = motet::runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// use std::time::Duration;
/// let (tx, rx) = motet::chan::bounded::<u32>(0);
/// motet::task::spawn(async move { tx.send_async(1).await.unwrap() });
/// let got = motet::select_async! {
///     recv(rx) -> v => v.ok(),
///     timeout(Duration::from_secs(5)) => None,
/// };
/// assert_eq!(got, Some(1));
/// # });
/// ```
#[macro_export]
macro_rules! select_async {
    ($($t:tt)*) => { $crate::__select_parse!(@async {} {} $($t)*) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    // Separators between arms.
    (@$m:ident {$($a:tt)*} {$($s:tt)*} , $($rest:tt)*) => {
        $crate::__select_parse!(@$m {$($a)*} {$($s)*} $($rest)*)
    };

    // recv
    (@$m:ident {$($a:tt)*} {$($s:tt)*} recv($rx:expr) -> $p:pat => $body:block $($rest:tt)*) => {{
        let mut __arm = $crate::chan::RecvArm::new(&$rx);
        $crate::__select_parse!(@$m {$($a)* [__arm recv $p => $body]} {$($s)*} $($rest)*)
    }};
    (@$m:ident {$($a:tt)*} {$($s:tt)*} recv($rx:expr) -> $p:pat => $body:expr , $($rest:tt)*) => {{
        let mut __arm = $crate::chan::RecvArm::new(&$rx);
        $crate::__select_parse!(@$m {$($a)* [__arm recv $p => { $body }]} {$($s)*} $($rest)*)
    }};
    (@$m:ident {$($a:tt)*} {$($s:tt)*} recv($rx:expr) -> $p:pat => $body:expr) => {{
        let mut __arm = $crate::chan::RecvArm::new(&$rx);
        $crate::__select_parse!(@$m {$($a)* [__arm recv $p => { $body }]} {$($s)*})
    }};

    // send
    (@$m:ident {$($a:tt)*} {$($s:tt)*} send($tx:expr, $v:expr) -> $p:pat => $body:block $($rest:tt)*) => {{
        let mut __arm = $crate::chan::SendArm::new(&$tx, $v);
        $crate::__select_parse!(@$m {$($a)* [__arm send $p => $body]} {$($s)*} $($rest)*)
    }};
    (@$m:ident {$($a:tt)*} {$($s:tt)*} send($tx:expr, $v:expr) -> $p:pat => $body:expr , $($rest:tt)*) => {{
        let mut __arm = $crate::chan::SendArm::new(&$tx, $v);
        $crate::__select_parse!(@$m {$($a)* [__arm send $p => { $body }]} {$($s)*} $($rest)*)
    }};
    (@$m:ident {$($a:tt)*} {$($s:tt)*} send($tx:expr, $v:expr) -> $p:pat => $body:expr) => {{
        let mut __arm = $crate::chan::SendArm::new(&$tx, $v);
        $crate::__select_parse!(@$m {$($a)* [__arm send $p => { $body }]} {$($s)*})
    }};

    // default
    (@$m:ident {$($a:tt)*} {} default => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@$m {$($a)*} {default => $body} $($rest)*)
    };
    (@$m:ident {$($a:tt)*} {} default => $body:expr , $($rest:tt)*) => {
        $crate::__select_parse!(@$m {$($a)*} {default => { $body }} $($rest)*)
    };
    (@$m:ident {$($a:tt)*} {} default => $body:expr) => {
        $crate::__select_parse!(@$m {$($a)*} {default => { $body }})
    };

    // timeout
    (@$m:ident {$($a:tt)*} {} timeout($d:expr) => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@$m {$($a)*} {timeout($d) => $body} $($rest)*)
    };
    (@$m:ident {$($a:tt)*} {} timeout($d:expr) => $body:expr , $($rest:tt)*) => {
        $crate::__select_parse!(@$m {$($a)*} {timeout($d) => { $body }} $($rest)*)
    };
    (@$m:ident {$($a:tt)*} {} timeout($d:expr) => $body:expr) => {
        $crate::__select_parse!(@$m {$($a)*} {timeout($d) => { $body }})
    };

    // The end: run the select, then the winner's body.
    (@blocking {$([$arm:ident $k:ident $p:pat => $b:block])*} {}) => {{
        let mut __sel = $crate::chan::Select::new();
        $( __sel.$k(&mut $arm); )*
        let _ = __sel.select();
        $crate::__select_parse!(@dispatch {$([$arm $p => $b])*} {
            ::std::unreachable!("motet::select!: no arm completed")
        })
    }};
    (@async {$([$arm:ident $k:ident $p:pat => $b:block])*} {}) => {{
        let mut __sel = $crate::chan::Select::new();
        $( __sel.$k(&mut $arm); )*
        let _ = __sel.select_async().await;
        $crate::__select_parse!(@dispatch {$([$arm $p => $b])*} {
            ::std::unreachable!("motet::select_async!: no arm completed")
        })
    }};
    (@$m:ident {$([$arm:ident $k:ident $p:pat => $b:block])*} {default => $db:block}) => {{
        let mut __sel = $crate::chan::Select::new();
        $( __sel.$k(&mut $arm); )*
        let _ = __sel.try_select();
        $crate::__select_parse!(@dispatch {$([$arm $p => $b])*} $db)
    }};
    (@blocking {$([$arm:ident $k:ident $p:pat => $b:block])*} {timeout($d:expr) => $tb:block}) => {{
        let mut __sel = $crate::chan::Select::new();
        $( __sel.$k(&mut $arm); )*
        let _ = __sel.select_timeout($d);
        $crate::__select_parse!(@dispatch {$([$arm $p => $b])*} $tb)
    }};
    (@async {$([$arm:ident $k:ident $p:pat => $b:block])*} {timeout($d:expr) => $tb:block}) => {{
        let mut __sel = $crate::chan::Select::new();
        $( __sel.$k(&mut $arm); )*
        let _ = $crate::time::timeout($d, __sel.select_async()).await;
        $crate::__select_parse!(@dispatch {$([$arm $p => $b])*} $tb)
    }};

    (@dispatch {$([$arm:ident $p:pat => $b:block])*} $otherwise:block) => {
        $( if $arm.is_done() {
            let $p = $arm.take().expect("a done arm has a result");
            $b
        } else )* $otherwise
    };
}
