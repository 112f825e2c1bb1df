// A minimal Android app on contactsync: reads the address book, syncs with the reference
// discovery server, lists the contacts who use the app. See README.md.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
    plugins {
        // AGP 9.1.1: built-in Kotlin, compileSdk up to 37; needs Gradle 9.3.1 or newer.
        id("com.android.application") version "9.1.1"
        id("com.android.library") version "9.1.1"
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "contactsync-sample"

include(":app")

// The library module, straight from the source tree: the same way an app that vendors
// contactsync would include it. Run bindings/kotlin/android/build-android.sh first.
include(":contactsync")
project(":contactsync").projectDir = file("../bindings/kotlin/android")
