using System.Text.Json.Nodes;
using k8s;

namespace Orchestration.Resources;

/// <summary>A watch event whose object may be shared with other watchers.</summary>
/// <param name="Type">Added, Modified, Deleted or Bookmark.</param>
/// <param name="Object">The object; shared among the watchers of the same change, so it must not be modified.</param>
/// <param name="Source">The store change behind the event (null for initial objects and bookmarks): an identity to share derived forms by.</param>
public sealed record SharedObjectEvent(WatchEventType Type, JsonObject Object, object? Source);
