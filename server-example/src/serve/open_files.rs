//! The open-file limit. Every connection holds a file descriptor, and a
//! WebSocket one holds it for hours: at the usual soft limit of 1,024 the
//! server would refuse clients long before it runs short of memory. The
//! soft limit may be raised up to the hard one without privileges, so the
//! server (and the load generator) raise it at start.

/// The soft limit on open files before and after [`raise`] (`None`:
/// unlimited), and the hard limit it was raised to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    pub before: Option<u64>,
    pub after: Option<u64>,
}

/// Raises this process's soft limit on open files to its hard limit.
#[cfg(unix)]
pub fn raise() -> std::io::Result<OpenFiles> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            },
        )?;
    }
    Ok(OpenFiles {
        before: limit.current,
        after: getrlimit(Resource::Nofile).current,
    })
}

/// Elsewhere there is no soft limit to raise.
#[cfg(not(unix))]
pub fn raise() -> std::io::Result<OpenFiles> {
    Ok(OpenFiles {
        before: None,
        after: None,
    })
}

#[cfg(all(test, unix))]
mod tests {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

    use super::*;

    #[test]
    fn a_lowered_soft_limit_is_raised_to_the_hard_one() {
        let hard = getrlimit(Resource::Nofile).maximum;
        // Half the hard limit: far above what the other tests hold open.
        let lowered = hard.map_or(65_536, |h| h / 2);
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(lowered),
                maximum: hard,
            },
        )
        .expect("lowering the soft limit needs no privilege");
        let raised = raise().expect("raising it to the hard one needs none either");
        assert_eq!(raised.before, Some(lowered));
        assert_eq!(raised.after, hard);
        assert_eq!(getrlimit(Resource::Nofile).current, hard);
    }
}
