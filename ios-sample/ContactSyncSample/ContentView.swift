import ContactSync
import ContactsUI
import SwiftUI

/// One screen: what the sample does, a button, the status line, and the contacts who use the app
/// (bound to the engine's matches: they change by themselves after a background run or an invite).
struct ContentView: View {
    @ObservedObject var model: SampleModel
    @State private var pickingContacts = false

    var body: some View {
        NavigationView {
            List {
                Section {
                    Text("Finds which of your contacts use this app. Only keyed hashes of their numbers, addresses and handles are sent to the server.")
                        .font(.callout)
                    if model.isRunning {
                        HStack(spacing: 12) {
                            ProgressView()
                            Text(model.status)
                        }
                        Button("Stop", role: .destructive) { model.stop() }
                    } else {
                        Button("Find friends") { model.findFriends() }
                        Text(model.status)
                            .foregroundColor(model.failed ? .red : .secondary)
                            .textSelection(.enabled)
                    }
                }

                if model.authorization == .limited {
                    Section {
                        Text("You shared only some of your contacts with this app; only those are looked up.")
                            .font(.callout)
                        if #available(iOS 18.0, *) {
                            Button("Share more contacts") { pickingContacts = true }
                        }
                    }
                }

                Section(header: Text("Friends")) {
                    if model.friends.isEmpty {
                        Text("None of your contacts uses the app yet.")
                            .foregroundColor(.secondary)
                    }
                    ForEach(model.friends) { friend in
                        VStack(alignment: .leading, spacing: 2) {
                            Text(friend.name)
                            Text(friend.identifier)
                                .font(.caption)
                                .foregroundColor(.secondary)
                        }
                    }
                }
            }
            .navigationTitle("contactsync")
            // The list follows the engine for as long as the view is on screen.
            .task { await model.observeFriends() }
            .modifier(ContactAccessPicker(isPresented: $pickingContacts) {
                // Newly shared contacts: the next import (a full snapshot under limited access)
                // reads them.
                model.findFriends()
            })
        }
        .navigationViewStyle(.stack)
    }
}

/// iOS 18's picker through which a user with limited access shares more contacts; nothing on
/// earlier systems (where access is all or nothing) or with SDKs before Xcode 16.
private struct ContactAccessPicker: ViewModifier {
    @Binding var isPresented: Bool
    let onShared: () -> Void

    func body(content: Content) -> some View {
        #if compiler(>=6)
        if #available(iOS 18.0, *) {
            content.contactAccessPicker(isPresented: $isPresented) { identifiers in
                if !identifiers.isEmpty { onShared() }
            }
        } else {
            content
        }
        #else
        content
        #endif
    }
}
