import SwiftUI

/// One window, one model. The model lives as long as the app: it holds the one `ContactSync` of
/// the process (one per database file) and the one `URLSession`. A real app would keep these in
/// its dependency graph.
@main
struct ContactSyncSampleApp: App {
    @StateObject private var model = SampleModel()

    var body: some Scene {
        WindowGroup {
            ContentView(model: model)
        }
    }
}
