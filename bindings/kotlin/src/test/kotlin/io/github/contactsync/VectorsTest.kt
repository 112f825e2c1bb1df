package io.github.contactsync

import io.github.contactsync.ffi.ContactsyncException
import io.github.contactsync.ffi.HashKey
import io.github.contactsync.ffi.Identifier
import io.github.contactsync.ffi.IdentifierKind
import io.github.contactsync.ffi.Normalizer
import java.util.Base64
import kotlin.io.path.readText
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

    private fun JsonObject.string(name: String): String? =
        this[name]?.takeUnless { it is JsonNull }?.jsonPrimitive?.content
}
