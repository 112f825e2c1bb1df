plugins {
    id("com.android.application")
}

android {
    namespace = "io.github.contactsync.sample"
    compileSdk = 36

    defaultConfig {
        applicationId = "io.github.contactsync.sample"
        minSdk = 24
        // Targeting Android 17 (37) would subject READ_CONTACTS to Google Play's Contact Picker
        // policy; see docs/android.md. The sample is not published.
        targetSdk = 36
        versionCode = 1
        versionName = "0.1.0"

        val serverUrl = providers.gradleProperty("contactsync.serverUrl").getOrElse("http://10.0.2.2:8787/")
        buildConfigField("String", "DISCOVERY_SERVER_URL", "\"$serverUrl\"")
        // Development only: a token the admin API vouched for a user, in place of open
        // registration, so that the sample can redeem invites (README, "Invite links").
        val deviceToken = providers.gradleProperty("contactsync.deviceToken").getOrElse("")
        buildConfigField("String", "VOUCHED_DEVICE_TOKEN", "\"$deviceToken\"")
        // The host of invite links (the server's public-url), for the App Links intent filter.
        manifestPlaceholders["inviteHost"] =
            providers.gradleProperty("contactsync.inviteHost").getOrElse("invite.example.org")

        // Exactly the ABIs build-android.sh builds the Rust library for. JNA's AAR ships more
        // (x86, armeabi, mips); without this filter an x86 device would install the app and then
        // fail to load libcontactsync_ffi.so.
        ndk {
            abiFilters += listOf("arm64-v8a", "armeabi-v7a", "x86_64")
        }
    }

    buildFeatures {
        buildConfig = true
    }

    buildTypes {
        release {
            // Shrinking on, so the library's consumer rules (JNA, generated bindings) are
            // exercised by `assembleRelease`.
            isMinifyEnabled = true
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"))
            // A sample: signed with the debug key so the release build installs as is.
            signingConfig = signingConfigs.getByName("debug")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

dependencies {
    implementation(project(":contactsync"))
}
