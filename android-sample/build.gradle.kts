// AGP 9 compiles Kotlin itself (built-in Kotlin) with the Kotlin Gradle plugin it depends on;
// this pins the same Kotlin compiler the JVM package is built and tested with
// (bindings/kotlin/pom.xml), so the shared sources compile alike on both.
buildscript {
    repositories {
        mavenCentral()
    }
    dependencies {
        classpath("org.jetbrains.kotlin:kotlin-gradle-plugin:2.4.21")
    }
}

plugins {
    id("com.android.application") apply false
    id("com.android.library") apply false
}
