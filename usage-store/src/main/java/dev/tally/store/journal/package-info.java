/**
 * The durable producer-side journal: billing services append usage events to
 * {@code <dir>/journal/journal.wal} and get an acknowledgement only once the events are durable
 * (see {@link dev.tally.store.journal.FsyncPolicy}); the worker's importer reads the journal with
 * {@link dev.tally.store.journal.JournalReader} and later reaps fully imported archives.
 *
 * <p>Many threads of one JVM and several processes may append to one journal at the same time.
 * Writers serialize on two locks, always taken in this order and released in reverse:
 * <ol>
 *   <li>the in-JVM {@link java.util.concurrent.locks.ReentrantLock} shared by every
 *       {@link dev.tally.store.journal.Journal} of this JVM that uses the same lock file (it keeps
 *       two threads of one JVM from asking for the same file lock, which the JDK refuses with
 *       {@link java.nio.channels.OverlappingFileLockException});</li>
 *   <li>the exclusive {@link java.nio.channels.FileLock} on {@code journal/journal.lock}, which
 *       serializes processes.</li>
 * </ol>
 * No other lock is ever taken while holding either of them, and neither is taken while holding
 * the small monitor that guards the per-JVM registry of lock files or the monitor on which
 * group-commit followers wait for their leader.
 *
 * <p>See {@link dev.tally.store.journal.Journal} for the record format and the recovery rules.
 */
package dev.tally.store.journal;
