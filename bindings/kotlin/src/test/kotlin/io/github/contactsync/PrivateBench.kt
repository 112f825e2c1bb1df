package io.github.contactsync

import io.github.contactsync.ffi.HashKey
import io.github.contactsync.ffi.Identifier
import io.github.contactsync.ffi.IdentifierKind
import io.github.contactsync.ffi.OprfBatch
import io.github.contactsync.ffi.OprfServerKey
import io.github.contactsync.ffi.coreVersion

/**
 * What a device pays per identifier in the private mode, from Kotlin: blinding a batch of [BATCH]
 * identifiers, then verifying the server's proofs and unblinding its answer — one call across
 * the FFI for each, as the engine does it inside a sync (blinding and checking spread over the
 * cores) — beside the keyed-hash mode's cost for the same identifiers (`HashKey.hash`, one call
 * each) in the same run. The server's evaluation (`OprfServerKey.evaluate`) is not timed: it is
 * the server's work. docs/performance.md, "Private discovery", has the figures and the Rust ones.
 *
 * Not a test: run by `scripts/bench.sh` against the release library. Warmed up, then [RUNS]
 * timed rounds; medians printed.
 */
fun main() {
    val ids = (0 until BATCH).map { Identifier(IdentifierKind.PHONE, "+49151${10_000_000 + it}") }
    val server = OprfServerKey.generate()
    val publicKey = server.publicKey()
    val hashKey = HashKey("k1", ByteArray(32) { 7 })
    var sink = 0L
    val blind = DoubleArray(RUNS)
    val finalize = DoubleArray(RUNS)
    val hashed = DoubleArray(RUNS)
    for (round in -WARMUP until RUNS) {
        var start = System.nanoTime()
        val batch = OprfBatch.blind(ids, BATCH.toUInt())
        val elements = batch.elements()
        val blinded = System.nanoTime() - start
        val answer = server.evaluate(elements)
        start = System.nanoTime()
        val values = batch.finalize(publicKey, answer.evaluated, answer.proofs)
        val finalized = System.nanoTime() - start
        batch.close()
        check(values.size == BATCH) { "${values.size} values for $BATCH identifiers" }
        sink += values.last()[0]
        start = System.nanoTime()
        for (id in ids) sink += hashKey.hash(id).length
        val hashing = System.nanoTime() - start
        if (round >= 0) {
            blind[round] = blinded / 1_000.0 / BATCH
            finalize[round] = finalized / 1_000.0 / BATCH
            hashed[round] = hashing / 1_000.0 / BATCH
        }
    }
    val cores = Runtime.getRuntime().availableProcessors()
    println("contactsync ${coreVersion()} private discovery through the FFI: JVM ${System.getProperty("java.version")}, $cores core(s)")
    println("per identifier, batches of $BATCH, medians of $RUNS runs after $WARMUP warm-up runs:")
    println("  baseline: keyed hash, HashKey.hash per identifier  %8.2f µs".format(median(hashed)))
    println("  device: OprfBatch.blind + elements (one call)      %8.2f µs".format(median(blind)))
    println("  device: finalize (verify and unblind, one call)    %8.2f µs".format(median(finalize)))
    println("  device: all of it (target: at most 100)            %8.2f µs".format(median(blind) + median(finalize)))
    server.close()
    hashKey.close()
    println("(checksum ${sink and 0xffff})")
}

private fun median(values: DoubleArray): Double = values.sorted()[values.size / 2]

private const val BATCH = 1024
private const val RUNS = 15
private const val WARMUP = 3
