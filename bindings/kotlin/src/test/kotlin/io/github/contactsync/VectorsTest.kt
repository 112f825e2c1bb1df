package io.github.contactsync

import io.github.contactsync.ffi.ContactsyncException
import io.github.contactsync.ffi.HashKey
import io.github.contactsync.ffi.Identifier
import io.github.contactsync.ffi.IdentifierKind
import io.github.contactsync.ffi.Normalizer
import io.github.contactsync.ffi.OprfBatch
import io.github.contactsync.ffi.OprfServerKey
import java.util.Base64
import kotlin.io.path.readText
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import kotlin.test.fail
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.Test

/**
 * The shared identifier vectors (`tests/vectors/identifiers.json`) through the generated
 * bindings: the same file the Rust and Swift tests read, so every platform normalises and hashes
 * byte for byte alike. This proves that strings cross the FFI unchanged in both directions
 * (non-ASCII input, canonical output) and that errors arrive as [ContactsyncException.InvalidValue]
 * with the stable reason code an app can show.
 *
 * And RFC 9497's VOPRF vectors (`tests/vectors/voprf.json`, Appendix A.1.2, ristretto255-SHA512)
 * through the library's OPRF: the client's blinding and finalising, the server's evaluation and
 * proof, byte for byte as the Rust tests check them.
 */
class VectorsTest {
    private class Case(
        val kind: IdentifierKind,
        val region: String,
        val input: String,
        val canonical: String?,
        val error: String?,
        val hash: String?,
    )

    @Test
    fun `every case normalises, is rejected and hashes as the vectors say`() {
        val root = Json.parseToJsonElement(TestEnv.vectors.resolve("identifiers.json").readText()).jsonObject
        val hashSpec = root.getValue("hash").jsonObject
        val key = HashKey(
            hashSpec.string("key_id")!!,
            Base64.getDecoder().decode(hashSpec.string("key_base64")!!),
        )
        val cases = root.getValue("cases").jsonArray.map { element ->
            val c = element.jsonObject
            Case(
                kind = IdentifierKind.valueOf(c.string("kind")!!.uppercase()),
                // Non-phone kinds do not depend on the region; the Rust test reads them in its
                // default region, US, and so does this one.
                region = c.string("region") ?: "US",
                input = c.string("input")!!,
                canonical = c.string("canonical"),
                error = c.string("error"),
                hash = c.string("hash"),
            )
        }
        assertTrue(cases.isNotEmpty(), "identifiers.json holds no case")

        val normalizers = HashMap<String, Normalizer>()
        val failures = mutableListOf<String>()
        var accepted = 0
        var rejected = 0
        for (case in cases) {
            val normalizer = normalizers.getOrPut(case.region) { Normalizer(case.region) }
            val label = "${case.kind} ${case.region} '${case.input}'"
            val result = try {
                normalizer.normalize(case.kind, case.input)
            } catch (e: ContactsyncException.InvalidValue) {
                e
            }
            when {
                case.canonical != null -> when (result) {
                    is Identifier -> {
                        accepted++
                        // Compare the bytes, not only the strings: what is hashed is UTF-8.
                        if (!result.canonical.toByteArray().contentEquals(case.canonical.toByteArray()) ||
                            result.kind != case.kind
                        ) {
                            failures += "$label: got ${result.kind} '${result.canonical}', expected '${case.canonical}'"
                        } else {
                            val digest = key.hash(result)
                            if (digest != case.hash) failures += "$label: hash $digest, expected ${case.hash}"
                            if (Base64.getUrlDecoder().decode(digest).size != 16) {
                                failures += "$label: hash $digest is not a 16-byte digest"
                            }
                        }
                    }
                    else -> failures += "$label: rejected (${(result as ContactsyncException.InvalidValue).reason}), expected '${case.canonical}'"
                }
                case.error != null -> when (result) {
                    is ContactsyncException.InvalidValue -> {
                        rejected++
                        if (result.reason != case.error) {
                            failures += "$label: rejected as ${result.reason}, expected ${case.error}"
                        }
                    }
                    else -> failures += "$label: accepted as '${(result as Identifier).canonical}', expected ${case.error}"
                }
                else -> failures += "$label: the case has neither a canonical form nor an error"
            }
        }
        normalizers.values.forEach { it.close() }
        key.close()

        if (failures.isNotEmpty()) {
            fail("${failures.size} of ${cases.size} vector cases differ:\n" + failures.joinToString("\n"))
        }
        assertTrue(accepted > 0 && rejected > 0, "$accepted accepted and $rejected rejected cases checked")
    }

    @Test
    fun `the RFC 9497 VOPRF vectors hold through the FFI`() {
        val root = Json.parseToJsonElement(TestEnv.vectors.resolve("voprf.json").readText()).jsonObject
        val key = OprfServerKey.fromBytes(hex(root.string("secret_key")!!))
        val publicKey = hex(root.string("public_key")!!)
        assertContentEquals(publicKey, key.publicKey())
        val vectors = root.getValue("vectors").jsonArray.map { it.jsonObject }
        assertEquals(3, vectors.size)
        for (v in vectors) {
            val name = v.string("name")
            val batch = OprfBatch.blindKnown(v.hexList("input"), v.hexList("blind"))
            assertEquals(v.hexList("blinded").map { it.toList() }, batch.elements().map { it.toList() }, "$name blinded")
            val answer = key.evaluateKnown(batch.elements(), listOf(hex(v.string("proof_scalar")!!)))
            assertEquals(v.hexList("evaluated").map { it.toList() }, answer.evaluated.map { it.toList() }, "$name evaluated")
            assertEquals(1, answer.proofs.size, "$name: one slice")
            assertContentEquals(hex(v.string("proof")!!), answer.proofs.single(), "$name proof")
            val outputs = batch.finalize(publicKey, answer.evaluated, answer.proofs)
            assertEquals(v.hexList("output").map { it.toList() }, outputs.map { it.toList() }, "$name output")

            // An answer under another key fails the proof: a typed error, no values.
            val other = OprfServerKey.generate()
            val forged = other.evaluate(batch.elements())
            assertFailsWith<ContactsyncException.Protocol> { batch.finalize(publicKey, forged.evaluated, forged.proofs) }
            other.close()
            batch.close()
        }
        // Bytes that are not a scalar are an argument error, not a hang or a crash.
        assertFailsWith<ContactsyncException.InvalidArgument> {
            OprfBatch.blindKnown(listOf(hex("00")), listOf(ByteArray(32)))
        }
        key.close()
    }

    private fun hex(text: String): ByteArray =
        ByteArray(text.length / 2) { text.substring(it * 2, it * 2 + 2).toInt(16).toByte() }

    private fun JsonObject.hexList(name: String): List<ByteArray> =
        getValue(name).jsonArray.map { hex(it.jsonPrimitive.content) }

    private fun JsonObject.string(name: String): String? =
        this[name]?.takeUnless { it is JsonNull }?.jsonPrimitive?.content
}
