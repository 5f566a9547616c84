/**
 * The in-memory index of stored event keys that lets an append drop duplicates with one memory
 * probe per event (see {@link dev.tally.store.dedup.DedupIndex}). A self-contained data structure:
 * the store's core fills and consults it, and benchmarks measure it on its own.
 */
package dev.tally.store.dedup;
