namespace Orchestration.Networking;

/// <summary>A network proxy could not program its data plane (a tool is missing, the kernel refused a rule).</summary>
public sealed class NetworkProxyException : Exception
{
    /// <summary>A failure described by <paramref name="message"/>.</summary>
    public NetworkProxyException(string message)
        : base(message)
    {
    }

    /// <summary>A failure described by <paramref name="message"/>, caused by <paramref name="innerException"/>.</summary>
    public NetworkProxyException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
