//! Fresh output buffers: zeroed by the allocator rather than by a pass over them,
//! and backed by transparent huge pages when they are large.
//!
//! A large zeroed allocation comes straight from the kernel as untouched pages that
//! read as zero (`calloc` knows this and skips the `memset`), so the only pass over
//! a new output is the GEMM that writes it. That first write faults the pages in;
//! with 4 KiB pages an 80 MB output takes about 20 000 faults, with 2 MiB pages
//! about 40. So, as NumPy does for its arrays of 4 MiB and more, outputs from
//! [`HUGE_PAGE_MIN_BYTES`] on are marked `MADV_HUGEPAGE` before anything touches
//! them (Linux only; where transparent huge pages are off, the advice does nothing).

use bytemuck::Zeroable;

/// Outputs from this many bytes on ask for transparent huge pages, NumPy's
/// threshold: below it the allocation is mostly not 2 MiB-aligned anyway.
pub(crate) const HUGE_PAGE_MIN_BYTES: usize = 4 << 20;

/// A vector of `len` zeros, or `None` when the allocator refuses it.
pub(crate) fn zeroed<A: Zeroable>(len: usize) -> Option<Vec<A>> {
    let data: Vec<A> = bytemuck::allocation::try_zeroed_vec(len).ok()?;
    let bytes = std::mem::size_of_val(data.as_slice());
    if bytes >= HUGE_PAGE_MIN_BYTES {
        advise_huge_pages(data.as_ptr().cast(), bytes);
    }
    Some(data)
}

/// Marks the whole 4 KiB pages of `[start, start + bytes)` `MADV_HUGEPAGE`.
#[cfg(target_os = "linux")]
fn advise_huge_pages(start: *const u8, bytes: usize) {
    const PAGE: usize = 4096;
    let first = (start as usize).next_multiple_of(PAGE);
    let end = (start as usize + bytes) / PAGE * PAGE;
    if end <= first {
        return;
    }
    // SAFETY: `madvise` only reads the address range; `[first, end)` lies inside the
    // live allocation `[start, start + bytes)` owned by the caller's vector, so it
    // names mapped memory of this process. `MADV_HUGEPAGE` changes how future page
    // faults in the range are served, never the contents or the validity of the
    // memory, so no Rust reference can observe it. The result is ignored: a kernel
    // without transparent huge pages answers EINVAL and the pages stay 4 KiB.
    #[allow(unsafe_code)]
    unsafe {
        libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_start: *const u8, _bytes: usize) {}
