namespace Orchestration.Informers;

/// <summary>What an informer watches and how it recovers.</summary>
public sealed class InformerOptions
{
    /// <summary>One namespace, or null for all.</summary>
    public string? Namespace { get; set; }

    /// <summary>A label selector to narrow the objects.</summary>
    public string? LabelSelector { get; set; }

    /// <summary>A field selector to narrow the objects (the node agent's <c>spec.nodeName=...</c>).</summary>
    public string? FieldSelector { get; set; }

    /// <summary>How often every cached object is handed to the update handlers again (null: never).</summary>
    public TimeSpan? ResyncPeriod { get; set; }

    /// <summary>The first wait before watching again after an error; it doubles up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest wait between attempts.</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Page size of the list.</summary>
    public int PageSize { get; set; } = 500;
}
