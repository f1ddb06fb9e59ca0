//! The UTF-8 text of a Python `str`, borrowed from the object.
//!
//! pyo3's `to_cow` copies every string through a new `bytes` object in an
//! abi3 wheel for Python 3.9, because `PyUnicode_AsUTF8AndSize` joined the
//! limited API only in 3.10. CPython has exported that function since 3.3,
//! so the binding calls it on every version: it returns the UTF-8 the
//! string object keeps (an ASCII string's own data), and reading op dicts
//! spent half its time in the copies.

use std::os::raw::c_char;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;

unsafe extern "C" {
    fn PyUnicode_AsUTF8AndSize(
        unicode: *mut ffi::PyObject,
        size: *mut ffi::Py_ssize_t,
    ) -> *const c_char;
}

/// The text of `s`, valid as long as the borrow of `s`; a str that is not
/// valid Unicode (a lone surrogate) raises `UnicodeEncodeError`.
pub fn text<'a>(s: &'a Bound<'_, PyString>) -> PyResult<&'a str> {
    let mut size: ffi::Py_ssize_t = 0;
    // SAFETY: `s` is a live str object and the Bound proves the thread is
    // attached; CPython keeps the UTF-8 buffer until the object is freed,
    // and the result borrows `s`, which keeps the object alive.
    let data = unsafe { PyUnicode_AsUTF8AndSize(s.as_ptr(), &mut size) };
    if data.is_null() {
        return Err(PyErr::fetch(s.py()));
    }
    let len = usize::try_from(size).unwrap_or(0);
    // SAFETY: CPython returned `size` bytes at `data`, valid UTF-8 by its
    // contract (it refuses strings that do not encode).
    Ok(
        unsafe {
            std::str::from_utf8_unchecked(std::slice::from_raw_parts(data.cast::<u8>(), len))
        },
    )
}
