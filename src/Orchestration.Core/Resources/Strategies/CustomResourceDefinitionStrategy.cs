using System.Text.Json.Nodes;
using k8s.Models;

namespace Orchestration.Resources.Strategies;

/// <summary>CustomResourceDefinitions: conversion None, the cleanup finalizer on create (a definition stays until its objects are gone), a valid definition.</summary>
public sealed class CustomResourceDefinitionStrategy() : ResourceStrategy("apiextensions.k8s.io", "CustomResourceDefinition")
{
    /// <inheritdoc />
    public override void Default(JsonObject obj)
    {
        ArgumentNullException.ThrowIfNull(obj);
        if (obj["spec"] is JsonObject spec && spec["conversion"] is null)
        {
            spec["conversion"] = new JsonObject { ["strategy"] = "None" };
        }

        if (obj["metadata"] is JsonObject meta && meta["resourceVersion"] is null && meta["deletionTimestamp"] is null)
        {
            // On create: the definition stays until its objects are deleted.
            var finalizers = meta["finalizers"] as JsonArray ?? [];
            meta["finalizers"] = finalizers;
            if (!finalizers.Any(f => f?.ToString() == CustomResourceDefinitions.CleanupFinalizer))
            {
                finalizers.Add(CustomResourceDefinitions.CleanupFinalizer);
            }
        }
    }

    /// <inheritdoc />
    public override void Validate(ResourceKind kind, JsonObject obj, JsonObject? old, ICollection<V1StatusCause> causes)
    {
        ArgumentNullException.ThrowIfNull(obj);
        CustomResourceDefinitions.Validate(obj, obj["metadata"]?["name"]?.ToString() ?? "", causes);
    }
}
