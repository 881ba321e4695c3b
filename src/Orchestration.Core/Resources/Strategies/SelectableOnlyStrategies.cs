namespace Orchestration.Resources.Strategies;

/// <summary>Nodes: selectable by <c>spec.unschedulable</c>.</summary>
public sealed class NodeStrategy() : ResourceStrategy("", "Node", "spec.unschedulable");

/// <summary>Core Events: selectable by the object they are about, their reason, source and type.</summary>
public sealed class EventStrategy() : ResourceStrategy("", "Event", "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type");

/// <summary>events.k8s.io Events: selectable by the object they are about, their reason, controller and type.</summary>
public sealed class EventsV1Strategy() : ResourceStrategy("events.k8s.io", "Event", "regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid", "regarding.apiVersion", "regarding.resourceVersion", "regarding.fieldPath", "reason", "reportingController", "type");
