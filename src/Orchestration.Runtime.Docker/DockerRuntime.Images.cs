using Docker.DotNet.Models;

namespace Orchestration.Runtime.Docker;

// The images a node holds: listed, checked, loaded from a tarball (no registry is reachable).
public sealed partial class DockerRuntime
{
    /// <summary>The images dockerd holds, by every tag they carry.</summary>
    public async Task<IReadOnlyList<string>> ListImagesAsync(CancellationToken cancellationToken)
    {
        var images = await CallAsync("image list", cancellationToken, ct => _client.Images.ListImagesAsync(new ImagesListParameters(), ct)).ConfigureAwait(false);
        return (images ?? []).SelectMany(i => i.RepoTags ?? []).ToList();
    }

    /// <summary>Whether dockerd holds <paramref name="image"/> (named as a pod names it).</summary>
    public async Task<bool> HasImageAsync(string image, CancellationToken cancellationToken)
    {
        var inspected = await CallAsync("image inspect", cancellationToken, ct => _client.Images.InspectImageAsync(ImageReference.Normalize(image), ct), ignoreNotFound: true).ConfigureAwait(false);
        return inspected is not null;
    }

    /// <summary>
    /// Loads an image tarball (as <c>docker load</c> takes it: a Docker-style <c>manifest.json</c>,
    /// which the tarballs of scripts/build-images.sh carry beside their OCI layout).
    /// </summary>
    /// <exception cref="InvalidOperationException">dockerd refused the tarball.</exception>
    public async Task LoadImageAsync(string archivePath, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(archivePath);
        var errors = new List<string>();
        var progress = new Progress(message =>
        {
            if (!string.IsNullOrEmpty(message.ErrorMessage))
            {
                lock (errors)
                {
                    errors.Add(message.ErrorMessage);
                }
            }
        });
        await using (var archive = File.OpenRead(archivePath))
        {
            await CallAsync("image load", cancellationToken, ct => _client.Images.LoadImageAsync(new ImageLoadParameters { Quiet = true }, archive, progress, ct), archivePath).ConfigureAwait(false);
        }

        lock (errors)
        {
            if (errors.Count > 0)
            {
                throw new InvalidOperationException($"dockerd did not load {archivePath}: {string.Join("; ", errors)}");
            }
        }
    }

    // Docker.DotNet reports a load's messages, errors among them, through a progress callback; this
    // one runs inline, so they are all in once the call returns (System.Progress posts them later).
    private sealed class Progress(Action<JSONMessage> report) : IProgress<JSONMessage>
    {
        public void Report(JSONMessage value) => report(value);
    }
}
