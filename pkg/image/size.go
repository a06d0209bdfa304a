package image

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// CompressedSize is what pulling img transfers: the sum of its compressed layers.
func CompressedSize(img v1.Image) (int64, error) {
	layers, err := img.Layers()
	if err != nil {
		return 0, err
	}
	var total int64
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			return 0, fmt.Errorf("sizing layer: %w", err)
		}
		total += n
	}
	return total, nil
}
