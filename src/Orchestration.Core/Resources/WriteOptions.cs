namespace Orchestration.Resources;

/// <summary>How a write is carried out.</summary>
public sealed record WriteOptions
{
    /// <summary>Run every check and compute the result, but store nothing (<c>dryRun=All</c>).</summary>
    public bool DryRun { get; init; }

    /// <summary>A write with no options.</summary>
    public static WriteOptions Default { get; } = new();
}
