package io.github.contactsync

import java.util.concurrent.TimeUnit
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.addJsonObject
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.put
import kotlinx.serialization.json.putJsonArray
import okhttp3.HttpUrl
import okhttp3.HttpUrl.Companion.toHttpUrl
import okhttp3.MediaType.Companion.toMediaType
import okhttp3.OkHttpClient
import okhttp3.Request
import okhttp3.RequestBody.Companion.toRequestBody
import org.junit.jupiter.api.Assumptions

/**
 * A real Matrix identity server (Sydent) for the Matrix mode's tests: `sydent-fixture`
 * (tests/src/bin/sydent-fixture.rs, built beside the CLI) as a child process, which starts Sydent
 * the way the Rust tests do and puts state into it over a JSON control API on loopback. Sydent's
 * start and provisioning thus live in the Rust test helpers only.
 *
 * The fixture ends, killing Sydent, when its stdin closes: [close] closes it, and so does this
 * JVM's end, however it ends.
 */
internal class SydentFixture private constructor(private val process: Process, first: JsonObject) : AutoCloseable {
    /** The control API, e.g. `http://127.0.0.1:41234`. */
    private val control: HttpUrl = first.getValue("control_url").jsonPrimitive.content.toHttpUrl()

    /** The identity server's base URL: what the Matrix mode's transport is built with. */
    val sydentUrl: HttpUrl = first.getValue("sydent_url").jsonPrimitive.content.toHttpUrl()

    /** Provisioning restarts Sydent: a request takes seconds, more on a loaded machine. */
    private val client = OkHttpClient.Builder().readTimeout(3, TimeUnit.MINUTES).build()

    /** An identity-server access token for the Matrix account [userId]. */
    fun createToken(userId: String): String =
        post("token", buildJsonObject { put("user_id", userId) }).getValue("token").jsonPrimitive.content

    /** Binds each (medium, address, Matrix user id), as a validated `/3pid/bind` would. */
    fun bind(vararg bindings: Triple<String, String, String>) {
        post(
            "bind",
            buildJsonObject {
                putJsonArray("bindings") {
                    for ((medium, address, mxid) in bindings) {
                        addJsonObject {
                            put("medium", medium)
                            put("address", address)
                            put("mxid", mxid)
                        }
                    }
                }
            },
        )
    }

    /** Removes that binding. */
    fun unbind(medium: String, address: String, mxid: String) {
        post(
            "unbind",
            buildJsonObject {
                put("medium", medium)
                put("address", address)
                put("mxid", mxid)
            },
        )
    }

    /** A new lookup pepper, every stored hash re-hashed, served from now on. */
    fun changePepper(pepper: String) {
        post("pepper", buildJsonObject { put("pepper", pepper) })
    }

    private fun post(operation: String, body: JsonObject): JsonObject {
        val request = Request.Builder()
            .url(control.newBuilder().addPathSegment(operation).build())
            .post(body.toString().toRequestBody(JSON))
            .build()
        return client.newCall(request).execute().use { response ->
            val text = response.body.string()
            check(response.isSuccessful) { "sydent-fixture /$operation: HTTP ${response.code} $text" }
            Json.parseToJsonElement(text).jsonObject
        }
    }

    /** Closing stdin ends the fixture and Sydent with it; killed if it does not end in time. */
    override fun close() {
        client.dispatcher.executorService.shutdown()
        client.connectionPool.evictAll()
        runCatching { process.outputStream.close() }
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS)
        }
    }

    companion object {
        private val JSON = "application/json".toMediaType()

        /**
         * A fixture with a fresh Sydent; when Sydent is not installed (scripts/sydent-for-tests),
         * the calling test is skipped with the fixture's reason — unless `CONTACTSYNC_CI` is set,
         * where the fixture fails and so does this.
         */
        fun start(): SydentFixture {
            val process = ProcessBuilder(TestEnv.sydentFixture.toString())
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start()
            val first = try {
                firstLine(process.inputStream.bufferedReader(), "sydent-fixture", "stdout", seconds = 180)
            } catch (e: Throwable) {
                process.destroyForcibly()
                throw e
            }
            if (first == null) {
                val code = process.waitFor()
                error("sydent-fixture ended (exit $code) without a line: its reason is on stderr above")
            }
            val line = Json.parseToJsonElement(first).jsonObject
            line["skipped"]?.let { reason ->
                process.waitFor(10, TimeUnit.SECONDS)
                System.err.println("skipped: ${reason.jsonPrimitive.content}")
                Assumptions.abort<Unit>(reason.jsonPrimitive.content)
            }
            return SydentFixture(process, line)
        }
    }
}
