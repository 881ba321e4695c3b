namespace Orchestration.Runtime;

/// <summary>
/// A container names an image the node does not hold, and the runtime does not pull (no registry is
/// reachable, or the pull policy is Never). The node agent reports it as Kubernetes does:
/// the container waits with reason <c>ErrImageNeverPull</c>.
/// </summary>
/// <remarks>
/// It is an <see cref="InvalidOperationException"/> so that callers that only know "the runtime
/// could not create the container" still treat it as that.
/// </remarks>
public sealed class ImageNotPresentException : InvalidOperationException
{
    /// <summary>Creates the exception for <paramref name="image"/>.</summary>
    /// <param name="image">The image as the container named it.</param>
    /// <param name="resolvedImage">The full reference it was looked up as (<c>docker.io/library/busybox:latest</c>).</param>
    public ImageNotPresentException(string image, string resolvedImage)
        : base($"Container image \"{image}\" is not present with pull policy of Never (looked up as {resolvedImage}); load it into the node's runtime first (scripts/build-images.sh builds the local images)")
    {
        Image = image;
        ResolvedImage = resolvedImage;
    }

    /// <summary>The image as the container named it.</summary>
    public string Image { get; }

    /// <summary>The full reference the runtime looked it up as.</summary>
    public string ResolvedImage { get; }
}
