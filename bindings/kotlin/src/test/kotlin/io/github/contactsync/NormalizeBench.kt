package io.github.contactsync

import io.github.contactsync.ffi.IdentifierKind
import io.github.contactsync.ffi.Normalizer
import io.github.contactsync.ffi.coreVersion

/**
 * What one call across the FFI costs from Kotlin: `Normalizer.normalize` on a national-format
 * phone number and on an e-mail address, against `coreVersion()` — a call that does nearly
 * nothing in Rust, so its cost is the crossing itself: JNA, the call-status structure the
 * generated code allocates per call (JNA `Structure`s are costly to allocate, and the bulk of
 * it), lowering and lifting a string. The difference is the normalisation proper.
 *
 * Not a test: run by `scripts/bench.sh` against the release library. Each case is warmed up (the
 * JIT compiles JNA's and the bindings' paths), then timed in samples of [BATCH] calls; the mean
 * and the median of the per-call time over the samples are printed (the median resists the odd
 * sample hit by a GC pause or the scheduler).
 */
fun main() {
    val normalizer = Normalizer(REGION)
    val cases = listOf<Pair<String, () -> Any>>(
        "coreVersion()  (crossing cost)" to { coreVersion() },
        "normalize(PHONE, \"$PHONE\")" to { normalizer.normalize(IdentifierKind.PHONE, PHONE) },
        "normalize(EMAIL, \"$EMAIL\")" to { normalizer.normalize(IdentifierKind.EMAIL, EMAIL) },
    )
    println("contactsync ${coreVersion()} FFI benchmark: JVM ${System.getProperty("java.version")}, " +
        "library from ${System.getProperty("jna.library.path")}")
    println("region $REGION; $WARMUP_CALLS warm-up calls, then $SAMPLES samples of $BATCH calls per case")
    println()
    println("%-46s %12s %12s".format("call", "mean ns", "median ns"))
    var sink = 0L
    for ((name, call) in cases) {
        repeat(WARMUP_CALLS) { sink += call().hashCode() }
        val perCall = DoubleArray(SAMPLES) {
            val start = System.nanoTime()
            repeat(BATCH) { sink += call().hashCode() }
            (System.nanoTime() - start).toDouble() / BATCH
        }
        perCall.sort()
        val median = (perCall[SAMPLES / 2 - 1] + perCall[SAMPLES / 2]) / 2
        println("%-46s %12.0f %12.0f".format(name, perCall.average(), median))
    }
    normalizer.close()
    // Printed so the JIT cannot drop the calls whose results are otherwise unused.
    println()
    println("(checksum ${sink and 0xffff})")
}

private const val REGION = "DE"
private const val PHONE = "030 1234567"
private const val EMAIL = "Alice.Example@Example.COM"
private const val WARMUP_CALLS = 50_000
private const val SAMPLES = 200
private const val BATCH = 1_000
