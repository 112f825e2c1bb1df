// contactsync for Android: an Android library module (AAR) around the same Kotlin sources the
// JVM package compiles and tests (../src/main/kotlin), the UniFFI bindings generated from the
// Rust library, the Rust library itself built for each ABI, and a thin ContactsContract layer
// (src/main/kotlin).
//
// Before the first Gradle build, and after every change to the Rust side:
//     bindings/kotlin/android/build-android.sh
// It fills generated/uniffi (the bindings) and src/main/jniLibs (libcontactsync_ffi.so per
// ABI); both are build outputs and are not committed. See README.md beside this file.
//
// This module declares no plugin versions: the including build does (android-sample's
// settings.gradle.kts). Written for AGP 9 (built-in Kotlin: no kotlin-android plugin).

plugins {
    id("com.android.library")
    // The AAR's publication (below): the same coordinates' Android artifact, with the same POM
    // as the JVM jar (bindings/kotlin/pom.xml), signed for Maven Central.
    `maven-publish`
    signing
}

// The version the release is made from: -Pcontactsync.version=0.1.0 (scripts/release reads the
// workspace's; docs/release.md), else a snapshot.
version = providers.gradleProperty("contactsync.version").getOrElse("0.1.0-SNAPSHOT")
group = "io.github.contactsync"

android {
    namespace = "io.github.contactsync"

    // 36 (Android 16) compiles against everything this module uses; apps may compile and
    // target higher. compileSdk of a library does not raise the apps' own.
    compileSdk = 36

    defaultConfig {
        // 24 (Android 7.0): above what the code needs (ContactsContract's
        // CONTACT_LAST_UPDATED_TIMESTAMP and DeletedContacts are API 18, JNA's AAR and OkHttp 5
        // run on 21), chosen so that apps get network_security_config (API 24) for a cleartext
        // test server, and because devices below it are a vanishing share that no longer gets
        // security updates. docs/android.md says more.
        minSdk = 24

        // Keep rules for JNA and the generated bindings, applied to every app that depends on
        // this library when it shrinks with R8.
        consumerProguardFiles("consumer-rules.pro")
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    sourceSets {
        getByName("main") {
            kotlin.srcDirs(
                // ContactSync, OkHttpTransport and the ContactsContract mapping: plain Kotlin,
                // shared with the JVM package and tested there.
                "../src/main/kotlin",
                // The UniFFI bindings (io.github.contactsync.ffi), from build-android.sh.
                "generated/uniffi",
                // The Android-only layer (io.github.contactsync.android).
                "src/main/kotlin",
            )
            // libcontactsync_ffi.so per ABI, from build-android.sh (cargo ndk -o).
            jniLibs.srcDirs("src/main/jniLibs")
        }
    }

    // The release variant with its sources jar and a javadoc jar (KDoc is published with the JVM
    // artifact's Dokka jar; AGP's javadoc jar satisfies Central's rule for this one).
    publishing {
        singleVariant("release") {
            withSourcesJar()
            withJavadocJar()
        }
    }

    packaging {
        jniLibs {
            // Store the .so files uncompressed and 16 KB-aligned in the APK, so they are mapped
            // straight from it (AGP's default since minSdk 23; stated so an app-wide override
            // does not silently undo it). See docs/android.md, "16 KB page size".
            useLegacyPackaging = false
        }
    }
}

dependencies {
    // The generated bindings call the Rust library through JNA. The AAR carries JNA's own
    // native dispatcher (libjnidispatch.so) per ABI, 16 KB-aligned (checked in 5.19.1); the
    // plain jar carries desktop libraries only.
    implementation("net.java.dev.jna:jna:5.19.1@aar")
    // ContactSync's API is made of coroutines and flows; the Android artifact adds
    // Dispatchers.Main for the app.
    api("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.11.0")
    // OkHttpTransport takes the app's OkHttpClient.
    api("com.squareup.okhttp3:okhttp:5.5.1")
    // Background import and sync (ContactSyncBackground, its CoroutineWorkers).
    implementation("androidx.work:work-runtime-ktx:2.11.1")
    // TimberLogSink: only for apps that use Timber already (they bring it; Apache-2.0).
    compileOnly("com.jakewharton.timber:timber:5.0.1")
}

// Fail early, with the fix in the message, when the Rust side has not been built: otherwise the
// build stops later on hundreds of unresolved references to io.github.contactsync.ffi.
val generatedBindings = file("generated/uniffi/io/github/contactsync/ffi/contactsync_ffi.kt")
val nativeLibraries = file("src/main/jniLibs")
val checkRustOutputs by tasks.registering {
    description = "Checks that build-android.sh produced the bindings and the native libraries."
    doLast {
        val hasLibraries = nativeLibraries.walkTopDown().any { it.name == "libcontactsync_ffi.so" }
        if (!generatedBindings.isFile || !hasLibraries) {
            throw GradleException(
                "contactsync: the Rust library and its Kotlin bindings are missing. " +
                    "Run bindings/kotlin/android/build-android.sh (needs cargo-ndk and the NDK) first.",
            )
        }
    }
}
tasks.named("preBuild") { dependsOn(checkRustOutputs) }

// `./gradlew :contactsync:publishReleasePublicationToStagingRepository` writes the signed AAR, POM,
// sources and javadoc jars to build/staging-repository, the bundle the Central Portal takes
// (docs/release.md, "Maven Central"). Signing uses the in-memory key of the Gradle properties
// signingInMemoryKey / signingInMemoryKeyPassword (ORG_GRADLE_PROJECT_* variables in CI); without
// one the publication is written unsigned, for a local check. Not run in this project's CI: no
// Android SDK there.
publishing {
    publications {
        register<MavenPublication>("release") {
            groupId = "io.github.contactsync"
            artifactId = "contactsync-android"
            version = project.version.toString()
            afterEvaluate { from(components["release"]) }
            pom {
                name.set("contactsync-android")
                description.set(
                    "Contact discovery for messaging apps on Android: a Rust engine (SQLite store, " +
                        "identifier normalisation, keyed hashing, sync with a discovery server) with " +
                        "Kotlin bindings, a coroutine API and a ContactsContract reader.",
                )
                url.set("https://github.com/contactsync/contactsync")
                licenses {
                    license {
                        name.set("Apache-2.0")
                        url.set("https://www.apache.org/licenses/LICENSE-2.0.txt")
                        distribution.set("repo")
                    }
                    license {
                        name.set("MIT")
                        url.set("https://opensource.org/license/mit")
                        distribution.set("repo")
                    }
                }
                developers {
                    developer {
                        id.set("contactsync")
                        name.set("The contactsync developers")
                        url.set("https://github.com/contactsync/contactsync")
                    }
                }
                scm {
                    connection.set("scm:git:https://github.com/contactsync/contactsync.git")
                    developerConnection.set("scm:git:ssh://git@github.com/contactsync/contactsync.git")
                    url.set("https://github.com/contactsync/contactsync")
                }
                issueManagement {
                    system.set("GitHub")
                    url.set("https://github.com/contactsync/contactsync/issues")
                }
            }
        }
    }
    repositories {
        maven {
            name = "staging"
            url = uri(layout.buildDirectory.dir("staging-repository"))
        }
    }
}

signing {
    val key = providers.gradleProperty("signingInMemoryKey").orNull
    if (key != null) {
        useInMemoryPgpKeys(key, providers.gradleProperty("signingInMemoryKeyPassword").orNull)
        sign(publishing.publications)
    }
}
