/**
 * Switches that turn one of the store's or the journal's promises off, so a test can show that the
 * test guarding the promise fails without it. Production switches none off. Shared by the store's
 * core and the journal, so it lives in neither.
 */
package dev.tally.store.mutation;
