import ContactSync
import SwiftUI

/// One window, one model. The model lives as long as the app: it holds the one `ContactSync` of
/// the process (one per database file) and the one `URLSession`. A real app would keep these in
/// its dependency graph.
@main
struct ContactSyncSampleApp: App {
    @StateObject private var model: SampleModel

    /// Runs once, before the app finishes launching: where the log sink and the background
    /// refresh handler go (the system requires the handler to be registered by then).
    init() {
        // Once per process, first: the engine's lines in the unified log (Console.app, subsystem
        // io.github.contactsync.sample; never contact data), down to debug in debug builds.
        let sink = OSLogSink(subsystem: "io.github.contactsync.sample")
        #if DEBUG
        ContactSyncLogging.install(sink, level: .debug)
        #else
        ContactSyncLogging.install(sink, level: .info)
        #endif
        let model = SampleModel()
        model.registerBackgroundRefresh()
        _model = StateObject(wrappedValue: model)
    }

    var body: some Scene {
        WindowGroup {
            ContentView(model: model)
                // Invite links: Universal Links (https://<invite host>/i/CODE) and the app's own
                // contactsyncsample://i/CODE alike.
                .onOpenURL { model.redeemInvite($0) }
        }
    }
}
