// Package layer stands for core/log importing packages at its own level and above.
package layer

import (
	_ "github.com/weirdata/weir/core/broker" // want layer-order
	_ "github.com/weirdata/weir/core/record"
	_ "github.com/weirdata/weir/core/wire" // want layer-order
)
