//! `platform:`: a service's image must be of the platform it names. Docker Engine refuses to
//! create a container from a local image of another platform, in the words used here; compose's
//! pull of a missing image asks for that platform already.

use xcompose_images::Image;
use xcompose_loader::model::Service;
use xcompose_registry::platform::Platform;

use crate::StackError;

/// Fails when `service` names a platform `image` (its resolved image) is not of.
pub(crate) fn check(service_name: &str, service: &Service, image: &Image) -> Result<(), StackError> {
    if service.platform.is_empty() {
        return Ok(());
    }
    let invalid = |message: String| StackError::Service { service: service_name.to_string(), message };
    let wanted = Platform::parse(&service.platform).map_err(|e| invalid(e.to_string()))?;
    let config = &image.config;
    let variant = config.variant().as_deref().map(|v| format!("/{v}")).unwrap_or_default();
    let actual_text = format!("{}/{}{variant}", config.os(), config.architecture());
    let actual = Platform::parse(&actual_text).map_err(|e| invalid(e.to_string()))?;
    let matches = wanted.os == actual.os && wanted.architecture == actual.architecture && (wanted.variant.is_none() || wanted.variant == actual.variant);
    if matches {
        return Ok(());
    }
    Err(invalid(format!(
        "image with reference {} was found but does not match the specified platform: wanted {}, actual: {actual_text}; pull it for that platform (xcompose pull) or remove platform:",
        service.image, service.platform
    )))
}
