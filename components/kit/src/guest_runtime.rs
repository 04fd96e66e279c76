//! What Rust's `std` would give a node in its component, and nothing it would import.
//!
//! Nodes are `no_std` (with `alloc`): `std` on `wasm32-wasip2` brings wasi-libc's start-up and
//! panic printing, which make every node import about twenty WASI functions (stdio streams,
//! terminals, environment, exit, random seeds) that a node never needs: it has no files, no
//! environment and nowhere to print. Each import costs the host work on every instantiation, and
//! the host makes an instance per invocation; without them instantiating a node takes half the
//! time (see the README's benchmark table). What `std` did for a node is here instead:
//!
//! - the allocator: wasi-libc's `malloc`, as `std`'s was, linked from the target's own
//!   self-contained `libc.a` (neither it nor the memory functions `core` calls import anything).
//!   The `dlmalloc` crate, tried first, grew every instance's memory on its first allocation,
//!   and the memory growth and its reset made an invocation slower than with `std`;
//! - `cabi_realloc`, through which the host copies strings and lists into the node's memory;
//! - the panic handler: a trap, as `panic = "abort"` made it before; the host turns a trap into
//!   a 500 envelope.
//!
//! Only for the `wasm32` target outside tests: native builds (the unit tests) use `std`. A node
//! built with `std` (or with a crate that needs it) turns on the kit's `std` feature, which
//! leaves this module out: two panic handlers would not link.

use core::alloc::{GlobalAlloc, Layout};

// wasi-libc's allocator and memory functions (`memcmp`, `memcpy`, ...), which `core` calls.
#[link(name = "c")]
unsafe extern "C" {
    fn malloc(size: usize) -> *mut u8;
    fn calloc(count: usize, size: usize) -> *mut u8;
    fn realloc(ptr: *mut u8, size: usize) -> *mut u8;
    fn aligned_alloc(align: usize, size: usize) -> *mut u8;
    fn free(ptr: *mut u8);
}

/// The alignment `malloc` guarantees on wasm32 (as in `std`'s `System` allocator).
const MALLOC_ALIGN: usize = 8;

/// `std`'s `System` allocator on WASI, as a `no_std` global allocator.
struct LibcMalloc;

#[global_allocator]
static ALLOCATOR: LibcMalloc = LibcMalloc;

/// Whether `malloc` alone gives `layout`'s alignment for `size` bytes.
fn malloc_aligns(layout: Layout, size: usize) -> bool {
    layout.align() <= MALLOC_ALIGN && layout.align() <= size
}

unsafe impl GlobalAlloc for LibcMalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe {
            if malloc_aligns(layout, layout.size()) {
                malloc(layout.size())
            } else {
                aligned_alloc(layout.align(), layout.size())
            }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe {
            if malloc_aligns(layout, layout.size()) {
                calloc(layout.size(), 1)
            } else {
                let ptr = self.alloc(layout);
                if !ptr.is_null() {
                    core::ptr::write_bytes(ptr, 0, layout.size());
                }
                ptr
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        unsafe { free(ptr) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe {
            if malloc_aligns(layout, new_size) {
                return realloc(ptr, new_size);
            }
            let new = self.alloc(Layout::from_size_align_unchecked(new_size, layout.align()));
            if !new.is_null() {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                free(ptr);
            }
            new
        }
    }
}

/// The canonical ABI's allocation function: the host calls it to place strings and lists (the
/// input record, transport answers) in the node's memory. wit-bindgen's own
/// (`wit_bindgen::rt::cabi_realloc`, the same code) is compiled only for targets whose `std`
/// does not export one, and `wasm32-wasip2`'s does, so a `no_std` node on it must bring its own.
#[unsafe(no_mangle)]
unsafe extern "C" fn cabi_realloc(
    old_ptr: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    let ptr = unsafe {
        if old_len == 0 {
            if new_len == 0 {
                // A zero-sized value: any well-aligned address will do.
                return align as *mut u8;
            }
            alloc::alloc::alloc(Layout::from_size_align_unchecked(new_len, align))
        } else {
            alloc::alloc::realloc(
                old_ptr,
                Layout::from_size_align_unchecked(old_len, align),
                new_len,
            )
        }
    };
    if ptr.is_null() {
        // Out of memory: the node cannot go on; the trap becomes a 500 envelope.
        core::arch::wasm32::unreachable();
    }
    ptr
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
